// Package statefulset is the StatefulSet controller of kube-controller-manager:
// it runs pods that keep their identity. Where a ReplicaSet's pods are
// interchangeable ("web-7f9c-x2k4p"), a StatefulSet's pods are numbered
// ("web-0", "web-1", …): each keeps its name, its DNS name in the headless
// Service (spec.hostname/spec.subdomain) and its own PersistentVolumeClaims
// ("www-web-0") across restarts, deletions and updates.
//
//	StatefulSet informer ─┐                          ┌─ revisions: ControllerRevision "web-<hash>"
//	Pod informer ─────────┼─▶ queue "ns/name" ─▶ sync ┤  per template (current / update)
//	PVC, ControllerRevision                          ├─ claim pods (adopt / release)
//	  listers (read only) ┘                          ├─ ordinals 0..N-1: create missing (PVCs
//	                                                 │    first), in order, each after the
//	                                                 │    lower ones are Running and Ready
//	                                                 ├─ ordinals ≥ N: delete, highest first
//	                                                 ├─ rolling update: delete the highest
//	                                                 │    outdated pod, one at a time
//	                                                 └─ status: replicas, ready, current,
//	                                                      updated, revisions
//
// Order is the point: with podManagementPolicy OrderedReady (the default) the
// controller does one step per sync and waits for the pod it touched to be
// Running and Ready before the next; pod events bring it back. Parallel
// creates and deletes all at once. Updates never patch a running pod: the
// controller deletes it and, seeing the gap, creates it again from the new
// template under the same name.
//
// Unlike the ReplicaSet controller this one needs no expectations: names are
// fixed, so a create made twice on a stale cache fails with AlreadyExists and
// a pod is only re-created after the cache has seen the old one go.
package statefulset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// controllerKind is what pods, claims and revisions point to in their
// ownerReferences.
var controllerKind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

// Controller runs StatefulSets.
type Controller struct {
	kube      kubernetes.Interface
	setLister appslisters.StatefulSetLister
	podLister corelisters.PodLister
	pvcLister corelisters.PersistentVolumeClaimLister
	revLister appslisters.ControllerRevisionLister
	synced    []cache.InformerSynced
	// queue holds "namespace/name" keys of StatefulSets to sync.
	queue workqueue.TypedRateLimitingInterface[string]
	// recorder writes SuccessfulCreate/SuccessfulDelete/… events on the set.
	recorder record.EventRecorder
	// now is the clock (availability is minReadySeconds after readiness).
	now func() time.Time
}

// New builds the controller and registers its informer handlers.
func New(kube kubernetes.Interface, sets appsinformers.StatefulSetInformer, pods coreinformers.PodInformer,
	pvcs coreinformers.PersistentVolumeClaimInformer, revisions appsinformers.ControllerRevisionInformer,
	recorder record.EventRecorder) (*Controller, error) {
	c := &Controller{
		kube: kube, setLister: sets.Lister(), podLister: pods.Lister(), pvcLister: pvcs.Lister(), revLister: revisions.Lister(),
		synced: []cache.InformerSynced{sets.Informer().HasSynced, pods.Informer().HasSynced,
			pvcs.Informer().HasSynced, revisions.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "statefulset"}),
		recorder: recorder, now: time.Now,
	}
	if _, err := sets.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: c.enqueue,
	}); err != nil {
		return nil, fmt.Errorf("watch statefulsets: %w", err)
	}
	if _, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.addPod, UpdateFunc: c.updatePod, DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("watch pods for statefulsets: %w", err)
	}
	// Claims and revisions are only read through their listers: the
	// controller is the one writing them, and pod events drive every step.
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if set := c.resolve(pod.Namespace, ref); set != nil {
			c.enqueue(set)
		}
		return
	}
	for _, set := range c.selecting(pod) { // an orphan: who may adopt it?
		c.enqueue(set)
	}
}

func (c *Controller) updatePod(old, cur any) {
	oldPod, curPod := old.(*corev1.Pod), cur.(*corev1.Pod)
	if oldPod.ResourceVersion == curPod.ResourceVersion {
		return // a resync
	}
	oldRef, curRef := metav1.GetControllerOf(oldPod), metav1.GetControllerOf(curPod)
	if !reflect.DeepEqual(oldRef, curRef) && oldRef != nil {
		if set := c.resolve(oldPod.Namespace, oldRef); set != nil {
			c.enqueue(set)
		}
	}
	if curRef != nil {
		set := c.resolve(curPod.Namespace, curRef)
		if set == nil {
			return
		}
		c.enqueue(set)
		// Available is "ready for minReadySeconds": no event will say when
		// that time has passed, so come back then.
		if !isRunningAndReady(oldPod) && isRunningAndReady(curPod) && set.Spec.MinReadySeconds > 0 {
			c.queue.AddAfter(curPod.Namespace+"/"+set.Name, time.Duration(set.Spec.MinReadySeconds)*time.Second)
		}
		return
	}
	if !reflect.DeepEqual(oldPod.Labels, curPod.Labels) || !reflect.DeepEqual(oldRef, curRef) {
		for _, set := range c.selecting(curPod) {
			c.enqueue(set)
		}
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if pod, ok = tomb.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if set := c.resolve(pod.Namespace, ref); set != nil {
			c.enqueue(set)
		}
	}
}

// resolve returns the StatefulSet a controller ref points to, if it still
// is the same object (same UID).
func (c *Controller) resolve(ns string, ref *metav1.OwnerReference) *appsv1.StatefulSet {
	if ref.Kind != controllerKind.Kind {
		return nil
	}
	set, err := c.setLister.StatefulSets(ns).Get(ref.Name)
	if err != nil || set.UID != ref.UID {
		return nil
	}
	return set
}

// selecting lists the StatefulSets whose selector matches the pod's labels.
func (c *Controller) selecting(pod *corev1.Pod) []*appsv1.StatefulSet {
	all, err := c.setLister.StatefulSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*appsv1.StatefulSet
	for _, set := range all {
		sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			out = append(out, set)
		}
	}
	return out
}

// Run waits for the caches, starts workers, and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	slog.Info("starting controller", "controller", "statefulset", "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("statefulset controller: caches did not sync")
	}
	for range workers {
		go wait.UntilWithContext(ctx, c.runWorker, time.Second)
	}
	<-ctx.Done()
	slog.Info("stopping controller", "controller", "statefulset")
	return nil
}

func (c *Controller) runWorker(ctx context.Context) {
	for c.processNextItem(ctx) {
	}
}

func (c *Controller) processNextItem(ctx context.Context) bool {
	key, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(key) // one set is never synced by two workers at once
	if err := c.sync(ctx, key); err != nil {
		level := slog.LevelWarn
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			level = slog.LevelDebug // a stale cache: the retry sees fresher data
		}
		slog.Log(ctx, level, "sync failed, will retry", "controller", "statefulset", "key", key, "err", err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}
