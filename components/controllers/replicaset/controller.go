// Package replicaset is the ReplicaSet controller of kube-controller-manager:
// it keeps spec.replicas pods running for every ReplicaSet (and, through the
// same loop, for every ReplicationController, its pre-apps/v1 ancestor).
//
//	ReplicaSet informer ─┐                          ┌─ claim pods (adopt / release)
//	Pod informer ────────┼─▶ queue "ns/name" ─▶ sync ┼─ too few? create (slow start)
//	   (creates/deletes  │                          ├─ too many? delete the cheapest
//	    lower the        │                          └─ status: replicas, ready,
//	    expectations) ───┘                             available, terminating
//
// Pods are matched by the ReplicaSet's selector and owned through a
// controller ownerReference, so the garbage collector deletes them with the
// ReplicaSet. The Deployment controller drives rollouts only by changing
// ReplicaSets' spec.replicas through the API; it never touches pods itself.
package replicaset

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
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/kubelab/kubelab/components/controllers/expectations"
)

// burstReplicas caps the pods created or deleted in one sync (upstream 500).
const burstReplicas = 500

// Controller keeps ReplicaSets' pods at spec.replicas.
type Controller struct {
	// name is the controller's name in logs and the queue's metrics.
	name string
	// kube creates, patches and deletes pods.
	kube kubernetes.Interface
	// owners reads the ReplicaSets (or ReplicationControllers, converted)
	// and writes their status.
	owners owners
	// podLister reads pods from the informer cache.
	podLister corelisters.PodLister
	// synced say whether both caches have been filled once.
	synced []cache.InformerSynced
	// queue holds "namespace/name" keys of ReplicaSets to sync.
	queue workqueue.TypedRateLimitingInterface[string]
	// recorder writes the SuccessfulCreate/SuccessfulDelete events.
	recorder record.EventRecorder
	// expectations keep sync from acting twice on a stale pod cache.
	expectations *expectations.Expectations
	// burst caps creations/deletions per sync.
	burst int
	// now is the clock, replaceable in tests.
	now func() time.Time
}

// New builds the controller for apps/v1 ReplicaSets.
func New(kube kubernetes.Interface, rsInformer cache.SharedIndexInformer, pods coreinformers.PodInformer, recorder record.EventRecorder) (*Controller, error) {
	return newController("replicaset", kube, rsOwners(kube, rsInformer), rsInformer, pods, recorder)
}

func newController(name string, kube kubernetes.Interface, o owners, ownerInformer cache.SharedIndexInformer, pods coreinformers.PodInformer, recorder record.EventRecorder) (*Controller, error) {
	c := &Controller{
		name: name, kube: kube, owners: o, podLister: pods.Lister(),
		synced: []cache.InformerSynced{ownerInformer.HasSynced, pods.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: name}),
		recorder: recorder, expectations: expectations.New(time.Now), burst: burstReplicas, now: time.Now,
	}
	// Handlers only find which ReplicaSet to look at (and count observed
	// creates/deletes); sync does the thinking.
	if _, err := ownerInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: c.deleteOwner,
	}); err != nil {
		return nil, fmt.Errorf("watch %s owners: %w", name, err)
	}
	if _, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.addPod, UpdateFunc: c.updatePod, DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("watch pods for %s: %w", name, err)
	}
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

func (c *Controller) deleteOwner(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.expectations.Forget(key)
		c.queue.Add(key)
	}
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod) // restarted controller: a pod already on its way out
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if rs := c.resolve(pod.Namespace, ref); rs != nil {
			key := pod.Namespace + "/" + rs.Name
			c.expectations.CreationObserved(key)
			c.queue.Add(key)
		}
		return
	}
	// An orphan: every ReplicaSet that selects it may want to adopt it.
	for _, rs := range c.selecting(pod) {
		c.enqueue(rs)
	}
}

func (c *Controller) updatePod(old, cur any) {
	oldPod, curPod := old.(*corev1.Pod), cur.(*corev1.Pod)
	if oldPod.ResourceVersion == curPod.ResourceVersion {
		return // a resync, nothing changed
	}
	labelsChanged := !reflect.DeepEqual(oldPod.Labels, curPod.Labels)
	if curPod.DeletionTimestamp != nil {
		// A graceful delete began: replace the pod now, not when it is gone.
		c.deletePod(curPod)
		if labelsChanged {
			c.deletePod(oldPod)
		}
		return
	}
	oldRef, curRef := metav1.GetControllerOf(oldPod), metav1.GetControllerOf(curPod)
	refChanged := !reflect.DeepEqual(oldRef, curRef)
	if refChanged && oldRef != nil {
		if rs := c.resolve(oldPod.Namespace, oldRef); rs != nil {
			c.enqueue(rs)
		}
	}
	if curRef != nil {
		rs := c.resolve(curPod.Namespace, curRef)
		if rs == nil {
			return
		}
		c.enqueue(rs)
		// Availability is time based: look again once the pod has been
		// ready for minReadySeconds.
		if !isReady(oldPod) && isReady(curPod) && rs.Spec.MinReadySeconds > 0 {
			c.queue.AddAfter(curPod.Namespace+"/"+rs.Name, time.Duration(rs.Spec.MinReadySeconds)*time.Second)
		}
		return
	}
	if labelsChanged || refChanged {
		for _, rs := range c.selecting(curPod) {
			c.enqueue(rs)
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
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return
	}
	if rs := c.resolve(pod.Namespace, ref); rs != nil {
		key := pod.Namespace + "/" + rs.Name
		c.expectations.DeletionObserved(key, pod.Namespace+"/"+pod.Name)
		c.queue.Add(key)
	}
}

// resolve returns the owner a controller ref points to, if it is one of
// ours and still the same object (same UID).
func (c *Controller) resolve(ns string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	if ref.Kind != c.owners.kind().Kind {
		return nil
	}
	rs, err := c.owners.get(ns, ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

// selecting lists the owners whose selector matches the pod's labels.
func (c *Controller) selecting(pod *corev1.Pod) []*appsv1.ReplicaSet {
	all, err := c.owners.list(pod.Namespace)
	if err != nil {
		return nil
	}
	var out []*appsv1.ReplicaSet
	for _, rs := range all {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, rs)
	}
	if len(out) > 1 {
		slog.Warn("pod matches several owners: their selectors overlap", "controller", c.name, "pod", pod.Namespace+"/"+pod.Name, "count", len(out))
	}
	return out
}

// Run waits for the caches, starts workers, and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	slog.Info("starting controller", "controller", c.name, "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New(c.name + " controller: caches did not sync")
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.runWorker, time.Second)
	}
	<-ctx.Done()
	slog.Info("stopping controller", "controller", c.name)
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
	// Done lets the key be picked up again: a ReplicaSet is never synced by
	// two workers at once.
	defer c.queue.Done(key)
	if err := c.sync(ctx, key); err != nil {
		level := slog.LevelWarn
		if apierrors.IsConflict(err) {
			level = slog.LevelDebug // a stale cache: common and harmless, the retry reads fresher data
		}
		slog.Log(ctx, level, "sync failed, will retry", "controller", c.name, "key", key, "err", err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key) // reset the back-off
	return true
}
