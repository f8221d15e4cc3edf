// Package daemonset is the DaemonSet controller of kube-controller-manager:
// it runs one copy of a pod on every node that should have one (log
// shippers, node exporters, network plugins).
//
//	DaemonSet informer ───┐
//	Pod informer ─────────┤                       ┌─ history: ControllerRevision "<ds>-<hash>"
//	  (counts our creates │                       ├─ manage: per node, create the missing pod,
//	   and deletes)       ├─▶ queue "ns/name" ─▶ sync   delete extra, failed, misplaced ones
//	Node informer ────────┤                       ├─ rolling update: delete old pods on at most
//	ControllerRevision ───┘                       │    maxUnavailable nodes (manage recreates)
//	  informer                                    └─ status: desired, current, ready, updated…
//
// The controller does not place pods itself: it creates each pod with a
// required node affinity on metadata.name = <node>, and the scheduler binds
// it there (the way upstream works since 1.12). Every template version is
// kept as a ControllerRevision, whose hash labels the pods
// (controller-revision-hash): a pod whose hash is not the current one is
// "old" and gets replaced by the rolling update. `kubectl rollout history`
// and `undo` read those revisions.
package daemonset

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
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"

	"github.com/kubelab/kubelab/components/controllers/expectations"
)

// burstReplicas caps the pods created or deleted in one sync (upstream 250).
const burstReplicas = 250

var controllerKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// Controller runs DaemonSets' pods.
type Controller struct {
	kube       kubernetes.Interface
	dsLister   appslisters.DaemonSetLister
	podLister  corelisters.PodLister
	nodeLister corelisters.NodeLister
	revLister  appslisters.ControllerRevisionLister
	synced     []cache.InformerSynced
	// queue holds "namespace/name" keys of DaemonSets to sync.
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
	// expectations keep sync from acting twice on a stale pod cache.
	expectations *expectations.Expectations
	// failedBackoff spaces out the replacement of failed pods per
	// DaemonSet and node: a kubelet that keeps rejecting the pod must not
	// make us create and delete in a hot loop.
	failedBackoff *flowcontrol.Backoff
	burst         int
	now           func() time.Time
}

// New builds the controller and registers its informer handlers.
func New(kube kubernetes.Interface, dss appsinformers.DaemonSetInformer, revs appsinformers.ControllerRevisionInformer,
	pods coreinformers.PodInformer, nodes coreinformers.NodeInformer, recorder record.EventRecorder) (*Controller, error) {
	c := &Controller{
		kube: kube, dsLister: dss.Lister(), podLister: pods.Lister(), nodeLister: nodes.Lister(), revLister: revs.Lister(),
		synced: []cache.InformerSynced{dss.Informer().HasSynced, revs.Informer().HasSynced, pods.Informer().HasSynced, nodes.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "daemonset"}),
		recorder: recorder, expectations: expectations.New(time.Now),
		failedBackoff: flowcontrol.NewBackOff(time.Second, 15*time.Minute),
		burst:         burstReplicas, now: time.Now,
	}
	// Handlers only find which DaemonSets to look at; sync does the thinking.
	handlers := []struct {
		what     string
		informer cache.SharedIndexInformer
		h        cache.ResourceEventHandlerFuncs
	}{
		{"daemonsets", dss.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: c.enqueue, UpdateFunc: func(_, cur any) { c.enqueue(cur) }, DeleteFunc: c.deleteDaemonSet}},
		{"pods", pods.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addPod, UpdateFunc: c.updatePod, DeleteFunc: c.deletePod}},
		{"nodes", nodes.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { c.enqueueAll() }, UpdateFunc: c.updateNode, DeleteFunc: func(any) { c.enqueueAll() }}},
		{"controllerrevisions", revs.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: c.enqueueOwner, UpdateFunc: func(_, cur any) { c.enqueueOwner(cur) }, DeleteFunc: c.enqueueOwner}},
	}
	for _, x := range handlers {
		if _, err := x.informer.AddEventHandler(x.h); err != nil {
			return nil, fmt.Errorf("watch %s for the daemonset controller: %w", x.what, err)
		}
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

func (c *Controller) deleteDaemonSet(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.expectations.Forget(key)
		c.queue.Add(key)
	}
}

// enqueueAll: a node came, went or changed; every DaemonSet may care.
func (c *Controller) enqueueAll() {
	all, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range all {
		c.enqueue(ds)
	}
}

// updateNode ignores heartbeats: only labels, taints, unschedulable and the
// condition statuses can change which nodes want a daemon pod.
func (c *Controller) updateNode(old, cur any) {
	o, n := old.(*corev1.Node), cur.(*corev1.Node)
	if reflect.DeepEqual(o.Labels, n.Labels) && reflect.DeepEqual(o.Spec, n.Spec) &&
		reflect.DeepEqual(conditionStatuses(o), conditionStatuses(n)) {
		return
	}
	c.enqueueAll()
}

func conditionStatuses(n *corev1.Node) map[corev1.NodeConditionType]corev1.ConditionStatus {
	out := map[corev1.NodeConditionType]corev1.ConditionStatus{}
	for _, cond := range n.Status.Conditions {
		out[cond.Type] = cond.Status
	}
	return out
}

// enqueueOwner: a ControllerRevision changed; sync its DaemonSet.
func (c *Controller) enqueueOwner(obj any) {
	m, err := meta(obj)
	if err != nil {
		return
	}
	if ref := metav1.GetControllerOf(m); ref != nil {
		if ds := c.resolve(m.GetNamespace(), ref); ds != nil {
			c.enqueue(ds)
		}
	}
}

func meta(obj any) (metav1.Object, error) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("unexpected object %T", obj)
	}
	return m, nil
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod) // restarted controller: a pod already on its way out
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if ds := c.resolve(pod.Namespace, ref); ds != nil {
			key := pod.Namespace + "/" + ds.Name
			c.expectations.CreationObserved(key)
			c.queue.Add(key)
		}
		return
	}
	for _, ds := range c.selecting(pod) { // an orphan: who may adopt it?
		c.enqueue(ds)
	}
}

func (c *Controller) updatePod(old, cur any) {
	oldPod, curPod := old.(*corev1.Pod), cur.(*corev1.Pod)
	if oldPod.ResourceVersion == curPod.ResourceVersion {
		return
	}
	if curPod.DeletionTimestamp != nil {
		c.deletePod(curPod) // a graceful delete began
		return
	}
	oldRef, curRef := metav1.GetControllerOf(oldPod), metav1.GetControllerOf(curPod)
	if !reflect.DeepEqual(oldRef, curRef) && oldRef != nil {
		if ds := c.resolve(oldPod.Namespace, oldRef); ds != nil {
			c.enqueue(ds)
		}
	}
	if curRef != nil {
		ds := c.resolve(curPod.Namespace, curRef)
		if ds == nil {
			return
		}
		c.enqueue(ds)
		// Availability is time based: look again after minReadySeconds.
		if !isReady(oldPod) && isReady(curPod) && ds.Spec.MinReadySeconds > 0 {
			c.queue.AddAfter(curPod.Namespace+"/"+ds.Name, time.Duration(ds.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if !reflect.DeepEqual(oldPod.Labels, curPod.Labels) || oldRef != nil {
		for _, ds := range c.selecting(curPod) {
			c.enqueue(ds)
		}
	}
}

func (c *Controller) deletePod(obj any) {
	m, err := meta(obj)
	if err != nil {
		return
	}
	ref := metav1.GetControllerOf(m)
	if ref == nil {
		return
	}
	if ds := c.resolve(m.GetNamespace(), ref); ds != nil {
		key := m.GetNamespace() + "/" + ds.Name
		c.expectations.DeletionObserved(key, m.GetNamespace()+"/"+m.GetName())
		c.queue.Add(key)
	}
}

// resolve returns the DaemonSet a controller ref points to, if it still
// exists with the same UID.
func (c *Controller) resolve(ns string, ref *metav1.OwnerReference) *appsv1.DaemonSet {
	if ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
		return nil
	}
	ds, err := c.dsLister.DaemonSets(ns).Get(ref.Name)
	if err != nil || ds.UID != ref.UID {
		return nil
	}
	return ds
}

// selecting lists the DaemonSets whose selector matches the pod's labels.
func (c *Controller) selecting(pod *corev1.Pod) []*appsv1.DaemonSet {
	all, err := c.dsLister.DaemonSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*appsv1.DaemonSet
	for _, ds := range all {
		sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			out = append(out, ds)
		}
	}
	return out
}

// Run waits for the caches, starts workers, and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	slog.Info("starting controller", "controller", "daemonset", "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("daemonset controller: caches did not sync")
	}
	for range workers {
		go wait.UntilWithContext(ctx, c.runWorker, time.Second)
	}
	// Forget the back-off of nodes that stopped failing (upstream: every minute).
	go wait.UntilWithContext(ctx, func(context.Context) { c.failedBackoff.GC() }, time.Minute)
	<-ctx.Done()
	slog.Info("stopping controller", "controller", "daemonset")
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
	defer c.queue.Done(key) // a DaemonSet is never synced by two workers at once
	if err := c.sync(ctx, key); err != nil {
		level := slog.LevelWarn
		if apierrors.IsConflict(err) {
			level = slog.LevelDebug // a stale cache: the retry reads fresher data
		}
		slog.Log(ctx, level, "sync failed, will retry", "controller", "daemonset", "key", key, "err", err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}
