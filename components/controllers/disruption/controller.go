// Package disruption is the disruption controller of kube-controller-manager:
// it keeps every PodDisruptionBudget's status saying how many of its pods
// may be voluntarily disrupted right now. It never evicts anything itself.
//
//	PDB informer ─┐
//	Pod informer ─┼─▶ queue "ns/pdb" ─▶ sync ─┬─ pods = pods matching spec.selector
//	  (the PDBs   │                           ├─ expected = len(pods), or the sum of
//	   selecting  │                           │   their controllers' spec.replicas
//	   the pod)  ─┘                           ├─ healthy = Ready, not being deleted,
//	                                          │   not just evicted (disruptedPods)
//	                                          └─ status: disruptionsAllowed =
//	                                              healthy - desired, condition
//	                                              DisruptionAllowed
//
//	kubectl drain ─▶ POST pods/x/eviction ─▶ API server: disruptionsAllowed > 0?
//	                    yes: decrement it, note x in disruptedPods, delete x
//	                    no:  429 TooManyRequests
//
// The two halves meet only in the PDB's status: the API server spends a
// disruption and records the pod in status.disruptedPods, so that this
// controller does not count the pod as healthy again before its deletion
// shows up in the pod cache (or two minutes pass and it gives up waiting).
//
// A second, small queue withdraws stale DisruptionTarget pod conditions: an
// eviction marks the pod just before deleting it, and if the delete then
// failed, the mark would stay forever (stale.go).
package disruption

import (
	"context"
	"errors"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	policyinformers "k8s.io/client-go/informers/policy/v1"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// deletionTimeout is how long an evicted pod in status.disruptedPods is
// not counted as healthy while we wait to see it deleted (upstream 2m).
const deletionTimeout = 2 * time.Minute

// Informers are the caches the controller reads: PDBs and pods, and the
// workload controllers whose spec.replicas say how many pods a PDB with
// maxUnavailable or a percentage should expect.
type Informers struct {
	PDBs                   policyinformers.PodDisruptionBudgetInformer
	Pods                   coreinformers.PodInformer
	ReplicationControllers coreinformers.ReplicationControllerInformer
	ReplicaSets            appsinformers.ReplicaSetInformer
	Deployments            appsinformers.DeploymentInformer
	StatefulSets           appsinformers.StatefulSetInformer
}

// Controller writes PodDisruptionBudgets' status.
type Controller struct {
	// kube writes PDB status.
	kube kubernetes.Interface
	// pdbs and pods are the cache of what is protected and by what.
	pdbs policylisters.PodDisruptionBudgetLister
	pods corelisters.PodLister
	// rcs, rss, deployments and statefulSets give the scale of a pod's
	// controller.
	rcs          corelisters.ReplicationControllerLister
	rss          appslisters.ReplicaSetLister
	deployments  appslisters.DeploymentLister
	statefulSets appslisters.StatefulSetLister
	// synced say whether all caches have been filled once.
	synced []cache.InformerSynced
	// queue holds "namespace/name" keys of PDBs to sync.
	queue workqueue.TypedRateLimitingInterface[string]
	// staleQueue holds "namespace/name" keys of pods whose DisruptionTarget
	// condition may have gone stale (see stale.go).
	staleQueue workqueue.TypedRateLimitingInterface[string]
	// recorder writes NoPods, UnmanagedPods, CalculateExpectedPodCountFailed
	// and NotDeleted events.
	recorder record.EventRecorder
	// now is the clock, replaceable in tests.
	now func() time.Time
}

// New builds the controller and registers its informer handlers.
func New(kube kubernetes.Interface, inf Informers, recorder record.EventRecorder) (*Controller, error) {
	c := &Controller{
		kube: kube, pdbs: inf.PDBs.Lister(), pods: inf.Pods.Lister(),
		rcs: inf.ReplicationControllers.Lister(), rss: inf.ReplicaSets.Lister(),
		deployments: inf.Deployments.Lister(), statefulSets: inf.StatefulSets.Lister(),
		synced: []cache.InformerSynced{inf.PDBs.Informer().HasSynced, inf.Pods.Informer().HasSynced,
			inf.ReplicationControllers.Informer().HasSynced, inf.ReplicaSets.Informer().HasSynced,
			inf.Deployments.Informer().HasSynced, inf.StatefulSets.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "disruption"}),
		staleQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "disruption_recheck"}),
		recorder: recorder, now: time.Now,
	}
	if _, err := inf.PDBs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue, UpdateFunc: func(_, cur any) { c.enqueue(cur) }, DeleteFunc: c.enqueue,
	}); err != nil {
		return nil, err
	}
	// A pod change can change any PDB selecting it (old or new labels).
	if _, err := inf.Pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueuePod,
		UpdateFunc: func(old, cur any) {
			c.enqueuePod(old)
			c.enqueuePod(cur)
		},
		DeleteFunc: c.enqueuePod,
	}); err != nil {
		return nil, err
	}
	// The workload informers are only read (a scale change shows up as pod
	// events soon after); they need a handler to be started by the factory.
	for _, inf := range []cache.SharedIndexInformer{inf.ReplicationControllers.Informer(), inf.ReplicaSets.Informer(),
		inf.Deployments.Informer(), inf.StatefulSets.Informer()} {
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{}); err != nil {
			return nil, err
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

func (c *Controller) enqueuePod(obj any) {
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
	for _, pdb := range c.selecting(pod) {
		c.queue.Add(pod.Namespace + "/" + pdb.Name)
	}
	c.enqueueStale(pod)
}

// selecting lists the PDBs of the pod's namespace whose selector matches it.
func (c *Controller) selecting(pod *corev1.Pod) []*policyv1.PodDisruptionBudget {
	all, err := c.pdbs.PodDisruptionBudgets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*policyv1.PodDisruptionBudget
	for _, pdb := range all {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err == nil && sel.Matches(labels.Set(pod.Labels)) {
			out = append(out, pdb)
		}
	}
	return out
}

// Run waits for the caches, starts workers, and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	defer c.staleQueue.ShutDown()
	slog.Info("starting controller", "controller", "disruption", "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("disruption controller: caches did not sync")
	}
	for range workers {
		go wait.UntilWithContext(ctx, c.runWorker, time.Second)
	}
	go wait.UntilWithContext(ctx, c.runStaleWorker, time.Second)
	<-ctx.Done()
	slog.Info("stopping controller", "controller", "disruption")
	return nil
}

func (c *Controller) runWorker(ctx context.Context) {
	for processNext(ctx, c.queue, c.sync) {
	}
}

func (c *Controller) runStaleWorker(ctx context.Context) {
	for processNext(ctx, c.staleQueue, c.syncStale) {
	}
}

func processNext(ctx context.Context, queue workqueue.TypedRateLimitingInterface[string], sync func(context.Context, string) error) bool {
	key, shutdown := queue.Get()
	if shutdown {
		return false
	}
	// Done lets the key be picked up again: one object is never synced by
	// two workers at once.
	defer queue.Done(key)
	if err := sync(ctx, key); err != nil {
		level := slog.LevelWarn
		if apierrors.IsConflict(err) {
			level = slog.LevelDebug // written meanwhile (an eviction spent a disruption): look again
		}
		slog.Log(ctx, level, "sync failed, will retry", "controller", "disruption", "key", key, "err", err)
		queue.AddRateLimited(key)
		return true
	}
	queue.Forget(key) // reset the back-off
	return true
}
