// Package garbagecollector is the garbage collector of kube-controller-manager:
// it deletes objects whose owners are gone, following metadata.ownerReferences.
//
// A Deployment owns its ReplicaSets, which own their Pods; each dependent
// names its owner in metadata.ownerReferences (with the owner's UID). How a
// delete treats the dependents is the client's choice, the propagationPolicy:
//
//	Background (default)  the API server deletes the owner at once; we then
//	                      find dependents whose owners are all gone, and
//	                      delete them (and theirs, the same way).
//	Orphan                the API server keeps the owner with the "orphan"
//	                      finalizer; we remove its ownerReference from every
//	                      dependent, then the finalizer: the owner goes, the
//	                      dependents stay, ownerless.
//	Foreground            the API server keeps the owner with the
//	                      "foregroundDeletion" finalizer; we delete the
//	                      dependents (in the foreground too), and once none
//	                      with blockOwnerDeletion is left, remove the finalizer.
//
// How it works, a readable version of upstream's design:
//
//	discovery ─▶ metadata informers (informers.go) ─▶ graphChanges queue
//	   ─▶ graph builder: the ownership graph, owner ─▶ dependents by UID (graph.go)
//	   ─▶ attempts queue ─▶ workers: attemptToDelete / attemptToOrphan (sync.go)
//
// The graph is only a hint of where to look. Every decision is taken on the
// live state: a worker GETs the object and its owners from the API server
// before deleting anything, because informers lag and a wrong delete cannot
// be undone.
package garbagecollector

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/util/workqueue"
)

// DefaultDiscoveryPeriod is how often discovery is refreshed, so new custom
// resource types get watched (upstream's default too).
const DefaultDiscoveryPeriod = 30 * time.Second

// syncTimeout bounds the wait for the informers' first lists: one type the
// server cannot list must not stop collection for all the others.
const syncTimeout = 30 * time.Second

// Controller is the garbage collector.
type Controller struct {
	// metadata reads, patches and deletes any object by its metadata alone.
	metadata metadata.Interface
	// discovery lists the resource types to watch.
	discovery discovery.DiscoveryInterface
	// mapper turns an ownerReference's apiVersion+kind into the resource to
	// GET (deployments) and says whether it is namespaced. Reset with
	// discovery, so new kinds resolve.
	mapper meta.ResettableRESTMapper
	// graph is who owns whom, as far as the informers have told us.
	graph *graph
	// graphChanges carries informer events to the graph builder, in order.
	graphChanges workqueue.TypedInterface[*change]
	// attempts holds work for the workers; failures come back with back-off.
	attempts workqueue.TypedRateLimitingInterface[task]
	// monitors are the running informers, by resource type.
	monitorsMu sync.Mutex
	monitors   map[schema.GroupVersionResource]*monitor
	// discoveryPeriod is how often to look for new resource types.
	discoveryPeriod time.Duration
}

// action is what a worker attempts for an object.
type action int

const (
	// actionDelete: delete the object if its owners are gone; or, if it is
	// deleting its dependents in the foreground, finish when they are gone.
	actionDelete action = iota
	// actionOrphan: the object was deleted with the Orphan policy; free its
	// dependents, then let it go.
	actionOrphan
)

// task is one item of the attempts queue.
type task struct {
	action action
	uid    types.UID
}

// New builds a garbage collector.
func New(md metadata.Interface, dc discovery.DiscoveryInterface) *Controller {
	return &Controller{
		metadata:     md,
		discovery:    dc,
		mapper:       restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
		graph:        newGraph(),
		graphChanges: workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[*change]{Name: "garbage_collector_graph_changes"}),
		attempts: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[task](),
			workqueue.TypedRateLimitingQueueConfig[task]{Name: "garbage_collector_attempts"}),
		monitors:        map[schema.GroupVersionResource]*monitor{},
		discoveryPeriod: DefaultDiscoveryPeriod,
	}
}

// Run starts watching, waits for the first picture of the cluster, runs
// workers, and blocks until ctx ends.
func (gc *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer gc.attempts.ShutDown()
	defer gc.graphChanges.ShutDown()
	defer gc.stopMonitors()

	slog.Info("starting controller", "controller", "garbagecollector", "workers", workers)
	if err := gc.syncMonitors(ctx); err != nil {
		slog.Warn("garbage collector: discovery incomplete, will retry", "err", err)
	}
	go gc.runGraphBuilder()

	// Workers must not start on a half-built graph: orphaning, for one,
	// frees only the dependents the graph knows about.
	syncCtx, cancel := context.WithTimeout(ctx, syncTimeout)
	if !waitFor(syncCtx, gc.monitorsSynced) && ctx.Err() == nil {
		slog.Warn("garbage collector: some informers did not sync, starting anyway", "timeout", syncTimeout)
	}
	cancel()

	go wait.UntilWithContext(ctx, gc.refreshDiscovery, gc.discoveryPeriod)
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, gc.runWorker, time.Second)
	}
	<-ctx.Done()
	slog.Info("stopping controller", "controller", "garbagecollector")
	return nil
}

// refreshDiscovery picks up new resource types (CRDs) and forgets old ones.
func (gc *Controller) refreshDiscovery(ctx context.Context) {
	gc.mapper.Reset()
	if err := gc.syncMonitors(ctx); err != nil {
		slog.Warn("garbage collector: discovery incomplete, will retry", "err", err)
	}
}

func (gc *Controller) runWorker(ctx context.Context) {
	for gc.processNextItem(ctx) {
	}
}

// processNextItem takes one task off the queue and attempts it.
func (gc *Controller) processNextItem(ctx context.Context) bool {
	t, shutdown := gc.attempts.Get()
	if shutdown {
		return false
	}
	// Done releases the task: until then no other worker can take the same
	// one, so an object is never handled twice at once.
	defer gc.attempts.Done(t)
	if err := gc.sync(ctx, t); err != nil {
		slog.Warn("garbage collector: attempt failed, will retry", "uid", t.uid, "err", err)
		gc.attempts.AddRateLimited(t)
		return true
	}
	// Forget resets the back-off for this task.
	gc.attempts.Forget(t)
	return true
}

// waitFor polls cond until it holds (true) or ctx ends (false).
func waitFor(ctx context.Context, cond func() bool) bool {
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	return err == nil
}
