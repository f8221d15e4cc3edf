// Package endpointslice is the EndpointSlice controller
// ("endpointslice-controller" in kube-controller-manager): for every
// Service with a selector it keeps a set of EndpointSlices listing the
// pods the selector picks. kube-proxy programs the Service's rules from
// them, and cluster DNS answers headless names from them.
//
//	Service add/update/delete ──────────────┐
//	Pod add/update/delete ─▶ which services ─┼─▶ queue ─▶ worker ─▶ sync("ns/svc")
//	our EndpointSlices change ──────────────┘    ├─ pods from the cache, by selector
//	                                             ├─ desired: endpoints by address type and port set
//	                                             ├─ reconcile: fewest creates/updates/deletes
//	                                             └─ write; remember the writes until the cache shows them
//
// Why slices and not one Endpoints object: a Service with 5000 pods would
// be one huge object rewritten (and sent to every node) on every pod
// change. Slices hold at most 100 endpoints (--max-endpoints-per-slice),
// so a change rewrites one small slice.
package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/kubelab/kubelab/components/controllers/endpoints/membership"
)

const (
	// ControllerName is the endpointslice.kubernetes.io/managed-by value
	// on our slices: slices with another value (the API server's own
	// "kubernetes" slice, a mesh's) are not ours to touch.
	ControllerName = "endpointslice-controller.k8s.io"
	// DefaultMaxEndpointsPerSlice is upstream's --max-endpoints-per-slice.
	DefaultMaxEndpointsPerSlice = 100
	maxRetries                  = 15
)

// Controller keeps selector-based Services' EndpointSlices in step with their pods.
type Controller struct {
	// kube writes EndpointSlices.
	kube kubernetes.Interface
	// services, pods, nodes (for zones) and slices read the informers' caches.
	services corelisters.ServiceLister
	pods     corelisters.PodLister
	nodes    corelisters.NodeLister
	slices   discoverylisters.EndpointSliceLister
	synced   []cache.InformerSynced
	// queue holds "namespace/name" keys of services to sync.
	queue workqueue.TypedRateLimitingInterface[string]
	// recorder reports failed writes as Events on the Service.
	recorder record.EventRecorder
	// triggers computes the last-change-trigger-time annotation.
	triggers *membership.TriggerTimes
	// expected holds our recent writes until the slice cache shows them.
	expected *expectations
	// maxPerSlice caps the endpoints in one slice.
	maxPerSlice int
}

// New builds the controller on the given informers.
func New(kube kubernetes.Interface, services coreinformers.ServiceInformer, pods coreinformers.PodInformer,
	nodes coreinformers.NodeInformer, slices discoveryinformers.EndpointSliceInformer, recorder record.EventRecorder, maxPerSlice int) (*Controller, error) {
	if maxPerSlice <= 0 {
		maxPerSlice = DefaultMaxEndpointsPerSlice
	}
	c := &Controller{
		kube:     kube,
		services: services.Lister(),
		pods:     pods.Lister(),
		nodes:    nodes.Lister(),
		slices:   slices.Lister(),
		synced: []cache.InformerSynced{services.Informer().HasSynced, pods.Informer().HasSynced,
			nodes.Informer().HasSynced, slices.Informer().HasSynced},
		// Like upstream: back off from 1s (not 5ms) since a failed sync may
		// mean many slice writes, and cap all retries at 10/s.
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedMaxOfRateLimiter(
				workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 1000*time.Second),
				&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(10), 100)}),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint_slice"}),
		recorder:    recorder,
		triggers:    membership.NewTriggerTimes(),
		expected:    newExpectations(),
		maxPerSlice: maxPerSlice,
	}
	if _, err := services.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur interface{}) { c.enqueue(cur) },
		DeleteFunc: c.enqueue,
	}); err != nil {
		return nil, fmt.Errorf("watch services: %w", err)
	}
	if _, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.podChanged,
		UpdateFunc: func(old, cur interface{}) {
			keys, err := membership.ServicesToSync(c.services, old.(*corev1.Pod), cur.(*corev1.Pod))
			c.enqueueAll(keys, err)
		},
		DeleteFunc: c.podChanged,
	}); err != nil {
		return nil, fmt.Errorf("watch pods: %w", err)
	}
	// Our slices changing (our own writes arriving, or someone editing or
	// deleting one) send their service back through sync, which puts
	// things right or finds nothing to do.
	if _, err := slices.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.sliceChanged,
		UpdateFunc: func(_, cur interface{}) { c.sliceChanged(cur) },
		DeleteFunc: c.sliceChanged,
	}); err != nil {
		return nil, fmt.Errorf("watch endpointslices: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj interface{}) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("key for %T: %w", obj, err))
		return
	}
	c.queue.Add(key)
}

func (c *Controller) podChanged(obj interface{}) {
	if pod := membership.PodFromDelete(obj); pod != nil {
		c.enqueueAll(membership.ServicesFor(c.services, pod))
	}
}

func (c *Controller) sliceChanged(obj interface{}) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelManagedBy] != ControllerName || s.Labels[discoveryv1.LabelServiceName] == "" {
		return
	}
	c.queue.Add(s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName])
}

func (c *Controller) enqueueAll(keys sets.Set[string], err error) {
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	for key := range keys {
		c.queue.Add(key)
	}
}

// Run waits for the caches, starts workers, and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()

	slog.Info("starting controller", "controller", "endpointslice", "workers", workers, "maxEndpointsPerSlice", c.maxPerSlice)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("endpointslice controller: caches did not sync")
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.runWorker, time.Second)
	}
	<-ctx.Done()
	slog.Info("stopping controller", "controller", "endpointslice")
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
	var stale *staleCacheError
	switch {
	case err == nil:
		c.queue.Forget(key)
	case errors.As(err, &stale):
		// Not a failure: our last writes have not reached the cache yet.
		// Their informer events will queue the service again; this is
		// the safety net.
		slog.Debug("endpointslice cache behind our writes, waiting", "service", key)
		c.queue.AddAfter(key, 100*time.Millisecond)
	case c.queue.NumRequeues(key) < maxRetries:
		slog.Debug("endpointslice sync failed, will retry", "service", key, "err", err)
		c.queue.AddRateLimited(key)
	default:
		slog.Warn("dropping service out of the endpointslice queue", "service", key, "err", err)
		c.queue.Forget(key)
	}
	return true
}
