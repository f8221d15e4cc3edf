// Package namespace is the namespace controller, one of the control loops in
// kube-controller-manager. It finishes what `kubectl delete namespace` starts.
//
// The API server cannot delete a namespace by itself: the namespace holds
// objects of every kind, including custom resources it learns about at run
// time, and some of them (pods on a node) take a while to go. So DELETE only
// marks the namespace Terminating, and the "kubernetes" entry in
// spec.finalizers keeps it stored until this controller has emptied it:
//
//	kubectl delete ns demo
//	  └─ API server: deletionTimestamp set, status.phase Terminating
//	       └─ namespace informer ─▶ queue ─▶ worker ─▶ sync("demo")
//	            ├─ discovery: every namespaced resource we can list and delete
//	            ├─ for each one: DELETE the collection (or list + DELETE each)
//	            ├─ list again; anything left (pods stopping, finalizers)?
//	            │    └─ status.conditions say what, requeue in a moment
//	            └─ nothing left: PUT .../namespaces/demo/finalize without
//	               "kubernetes" in spec.finalizers ─▶ the API server deletes it
//
// The controller has the sample-controller shape: informer handlers only
// enqueue names, workers call sync, failures come back with back-off.
package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Controller empties and then finalizes namespaces that are being deleted.
type Controller struct {
	// kube reads namespaces fresh, writes their status, and calls finalize.
	kube kubernetes.Interface
	// dynamic deletes the content: it speaks to any resource, custom ones
	// included, without compiled-in types.
	dynamic dynamic.Interface
	// discovery says which resource types the server has right now.
	discovery discovery.DiscoveryInterface
	// lister reads namespaces from the informer's cache (no API call).
	lister corelisters.NamespaceLister
	// synced reports whether the cache has been filled once; workers wait
	// for it so they never act on an empty picture of the world.
	synced cache.InformerSynced
	// queue holds names of namespaces to look at. A name is in it at most
	// once however many events arrive, and failures come back with back-off.
	queue workqueue.TypedRateLimitingInterface[string]
	// now is the clock, replaceable in tests.
	now func() time.Time
}

// New builds a namespace controller fed by the given namespace informer.
func New(kube kubernetes.Interface, dyn dynamic.Interface, namespaces coreinformers.NamespaceInformer) (*Controller, error) {
	c := &Controller{
		kube:      kube,
		dynamic:   dyn,
		discovery: kube.Discovery(),
		lister:    namespaces.Lister(),
		synced:    namespaces.Informer().HasSynced,
		// Like upstream: retry quickly at first (5ms), never slower than a minute.
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "namespace"}),
		now: time.Now,
	}
	// Handlers only compute the key and queue it: all the thinking happens
	// in sync, which always reads the current state.
	_, err := namespaces.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj interface{}) { c.enqueue(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("watch namespaces: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj interface{}) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		c.queue.Add(ns.Name) // namespaces are cluster-scoped: the key is the name
	}
}

// Run waits for the cache, starts workers, and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()

	slog.Info("starting controller", "controller", "namespace", "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return errors.New("namespace controller: cache did not sync")
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.runWorker, time.Second)
	}
	<-ctx.Done()
	slog.Info("stopping controller", "controller", "namespace")
	return nil
}

func (c *Controller) runWorker(ctx context.Context) {
	for c.processNextItem(ctx) {
	}
}

// processNextItem takes one name off the queue and syncs it.
func (c *Controller) processNextItem(ctx context.Context) bool {
	name, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	// Done tells the queue we finished with this name: until then a second
	// worker cannot pick it up, so one namespace is never synced twice at once.
	defer c.queue.Done(name)

	err := c.sync(ctx, name)
	var remaining *contentRemainingError
	switch {
	case err == nil:
		// Forget resets the back-off, so the next failure starts fast again.
		c.queue.Forget(name)
	case errors.As(err, &remaining):
		// Not a failure, just not finished (pods stopping, finalizers
		// pending): look again after a while, like upstream (estimate/2 + 1s).
		slog.Debug("namespace content remaining", "namespace", name, "retryAfter", remaining.retryAfter())
		c.queue.AddAfter(name, remaining.retryAfter())
	default:
		slog.Warn("namespace sync failed, will retry", "namespace", name, "err", err)
		c.queue.AddRateLimited(name)
	}
	return true
}
