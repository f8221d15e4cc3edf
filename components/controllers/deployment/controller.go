// Package deployment is the Deployment controller of kube-controller-manager.
// A Deployment owns ReplicaSets, one per pod template it has run; a rollout
// is this controller moving replicas from the old ReplicaSets to the new one
// within maxSurge and maxUnavailable. It never creates pods: it only sets
// ReplicaSets' spec.replicas, and the ReplicaSet controller does the rest.
//
//	Deployment ─┐
//	ReplicaSet ─┼─▶ queue "ns/name" ─▶ sync
//	Pod (gone) ─┘                       ├─ claim ReplicaSets (adopt / release)
//	                                    ├─ paused, or only spec.replicas changed?
//	                                    │    └─ scale: proportionally over the active RSes
//	                                    ├─ RollingUpdate: new RS "<name>-<pod-template-hash>"
//	                                    │    ├─ scale it up   (total ≤ replicas + maxSurge)
//	                                    │    └─ scale old down (available ≥ replicas - maxUnavailable)
//	                                    ├─ Recreate: old to 0, wait for their pods, new to full
//	                                    ├─ complete? delete old RSes past revisionHistoryLimit
//	                                    └─ status: counts from the RSes, conditions
//	                                         Available and Progressing (with the deadline)
//
// Revision bookkeeping lives in annotations on the ReplicaSets (see util.go),
// which is what `kubectl rollout history` and `kubectl rollout undo` read: an
// undo is only kubectl patching the Deployment's template back, after which
// this controller finds the old ReplicaSet with that template and re-uses it.
package deployment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
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

// maxRetries: after this many failed syncs in a row a Deployment is dropped
// from the queue until its next change (upstream's 15).
const maxRetries = 15

var controllerKind = appsv1.SchemeGroupVersion.WithKind("Deployment")

// Controller rolls Deployments out through their ReplicaSets.
type Controller struct {
	// kube writes ReplicaSets and Deployment status.
	kube kubernetes.Interface
	// Listers read the informer caches.
	dLister   appslisters.DeploymentLister
	rsLister  appslisters.ReplicaSetLister
	podLister corelisters.PodLister
	synced    []cache.InformerSynced
	// queue holds "namespace/name" keys of Deployments to sync.
	queue workqueue.TypedRateLimitingInterface[string]
	// recorder writes ScalingReplicaSet events.
	recorder record.EventRecorder
	// now is the clock (progress deadlines), replaceable in tests.
	now func() time.Time
	// scaled remembers the generation of each ReplicaSet whose size we
	// wrote, so sync never acts on a cache older than its own writes.
	scaled scaledGenerations
}

// scaledGenerations: ReplicaSet UID → the generation our last scale wrote.
//
// Why: the Deployment and ReplicaSet caches are fed by two watches. Our
// status write can bring the Deployment back into the queue before the
// ReplicaSet watch has delivered the scale we just wrote; a sync then would
// count the old size and could scale up past maxSurge. Upstream has the
// same window; closing it costs one map.
type scaledGenerations struct {
	mu  sync.Mutex
	gen map[types.UID]int64
}

func (s *scaledGenerations) wrote(rs *appsv1.ReplicaSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == nil {
		s.gen = map[types.UID]int64{}
	}
	s.gen[rs.UID] = rs.Generation
}

// behind reports whether any cached ReplicaSet is older than what we wrote.
func (s *scaledGenerations) behind(rss []*appsv1.ReplicaSet) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rs := range rss {
		want, ok := s.gen[rs.UID]
		if !ok {
			continue
		}
		if rs.Generation < want {
			return true
		}
		delete(s.gen, rs.UID) // the cache caught up
	}
	return false
}

// New builds the controller.
func New(kube kubernetes.Interface, deployments appsinformers.DeploymentInformer, replicaSets appsinformers.ReplicaSetInformer, pods coreinformers.PodInformer, recorder record.EventRecorder) (*Controller, error) {
	c := &Controller{
		kube: kube, dLister: deployments.Lister(), rsLister: replicaSets.Lister(), podLister: pods.Lister(),
		synced: []cache.InformerSynced{deployments.Informer().HasSynced, replicaSets.Informer().HasSynced, pods.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "deployment"}),
		recorder: recorder, now: time.Now,
	}
	if _, err := deployments.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue, UpdateFunc: func(_, cur any) { c.enqueue(cur) }, DeleteFunc: c.enqueue,
	}); err != nil {
		return nil, fmt.Errorf("watch deployments: %w", err)
	}
	if _, err := replicaSets.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.addReplicaSet, UpdateFunc: c.updateReplicaSet, DeleteFunc: c.deleteReplicaSet,
	}); err != nil {
		return nil, fmt.Errorf("watch replicasets: %w", err)
	}
	if _, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: c.deletePod}); err != nil {
		return nil, fmt.Errorf("watch pods: %w", err)
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

func (c *Controller) addReplicaSet(obj any) {
	rs := obj.(*appsv1.ReplicaSet)
	if rs.DeletionTimestamp != nil {
		c.deleteReplicaSet(rs)
		return
	}
	if ref := metav1.GetControllerOf(rs); ref != nil {
		if d := c.resolve(rs.Namespace, ref); d != nil {
			c.enqueue(d)
		}
		return
	}
	for _, d := range c.selecting(rs) { // an orphan: who may adopt it?
		c.enqueue(d)
	}
}

func (c *Controller) updateReplicaSet(old, cur any) {
	oldRS, curRS := old.(*appsv1.ReplicaSet), cur.(*appsv1.ReplicaSet)
	if oldRS.ResourceVersion == curRS.ResourceVersion {
		return
	}
	oldRef, curRef := metav1.GetControllerOf(oldRS), metav1.GetControllerOf(curRS)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		if d := c.resolve(oldRS.Namespace, oldRef); d != nil {
			c.enqueue(d)
		}
	}
	if curRef != nil {
		if d := c.resolve(curRS.Namespace, curRef); d != nil {
			c.enqueue(d)
		}
		return
	}
	for _, d := range c.selecting(curRS) {
		c.enqueue(d)
	}
}

func (c *Controller) deleteReplicaSet(obj any) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if rs, ok = tomb.Obj.(*appsv1.ReplicaSet); !ok {
			return
		}
	}
	if ref := metav1.GetControllerOf(rs); ref != nil {
		if d := c.resolve(rs.Namespace, ref); d != nil {
			c.enqueue(d)
		}
	}
}

// deletePod matters only to Recreate, which waits for every old pod to be
// gone before creating new ones: the last pod's deletion wakes it up.
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
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	rs, err := c.rsLister.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	dref := metav1.GetControllerOf(rs)
	if dref == nil {
		return
	}
	if d := c.resolve(rs.Namespace, dref); d != nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		c.enqueue(d)
	}
}

// resolve returns the Deployment a controller ref points to, if it exists
// with the same UID.
func (c *Controller) resolve(ns string, ref *metav1.OwnerReference) *appsv1.Deployment {
	if ref.Kind != controllerKind.Kind {
		return nil
	}
	d, err := c.dLister.Deployments(ns).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return nil
	}
	return d
}

// selecting lists the Deployments whose selector matches rs's labels.
func (c *Controller) selecting(rs *appsv1.ReplicaSet) []*appsv1.Deployment {
	all, err := c.dLister.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*appsv1.Deployment
	for _, d := range all {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(rs.Labels)) {
			out = append(out, d)
		}
	}
	if len(out) > 1 {
		slog.Warn("replicaset matches several deployments: their selectors overlap", "replicaset", rs.Namespace+"/"+rs.Name, "count", len(out))
	}
	return out
}

// Run waits for the caches, starts workers, and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	slog.Info("starting controller", "controller", "deployment", "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("deployment controller: caches did not sync")
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.runWorker, time.Second)
	}
	<-ctx.Done()
	slog.Info("stopping controller", "controller", "deployment")
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
	defer c.queue.Done(key)
	err := c.sync(ctx, key)
	switch {
	case err == nil || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		c.queue.Forget(key)
	case c.queue.NumRequeues(key) < maxRetries:
		level := slog.LevelWarn
		if apierrors.IsConflict(err) {
			level = slog.LevelDebug // a stale cache: common and harmless, the retry reads fresher data
		}
		slog.Log(ctx, level, "sync failed, will retry", "controller", "deployment", "key", key, "err", err)
		c.queue.AddRateLimited(key)
	default:
		// Give up until the Deployment or one of its ReplicaSets changes.
		slog.Error("dropping deployment out of the queue", "key", key, "err", err)
		c.queue.Forget(key)
	}
	return true
}
