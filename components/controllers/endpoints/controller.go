// Package endpoints is the Endpoints controller ("endpoint-controller" in
// kube-controller-manager): for every Service with a selector it keeps an
// Endpoints object of the same name listing the addresses of the pods the
// selector picks, ready ones under addresses, the others under
// notReadyAddresses. Older clients (and `kubectl describe service`) read it;
// kube-proxy reads the EndpointSlices its sibling controller writes.
//
//	Service add/update/delete ─────────────┐
//	Pod add/update/delete ─▶ which services ┼─▶ queue ─▶ worker ─▶ sync("ns/svc")
//	Endpoints delete ──────────────────────┘    ├─ pods from the cache, by selector
//	                                            ├─ subsets: addresses grouped by port set
//	                                            └─ create / update only if different
//
// Services without a selector are left alone: their Endpoints are written
// by hand (that is how a Service points outside the cluster).
package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/kubelab/kubelab/components/controllers/endpoints/membership"
)

const (
	// ControllerName is the value of the managed-by label on the Endpoints
	// this controller writes (and its events' source).
	ControllerName = "endpoint-controller"
	// LabelManagedBy marks Endpoints the controller owns, as upstream does
	// since 1.33, so other tools can tell them from hand-written ones.
	LabelManagedBy = "endpoints.kubernetes.io/managed-by"

	// maxRetries: after this many failed syncs in a row a service is
	// dropped until its next change (about 82s of back-off, like upstream).
	maxRetries = 15
)

// Controller keeps selector-based Services' Endpoints in step with their pods.
type Controller struct {
	// kube writes Endpoints.
	kube kubernetes.Interface
	// services, pods, endpoints read the informers' caches.
	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
	// synced report whether each cache has been filled once.
	synced []cache.InformerSynced
	// queue holds "namespace/name" keys of services to sync.
	queue workqueue.TypedRateLimitingInterface[string]
	// recorder reports failed writes as Events on the Endpoints.
	recorder record.EventRecorder
	// triggers computes the last-change-trigger-time annotation.
	triggers *membership.TriggerTimes
}

// New builds the controller on the given informers.
func New(kube kubernetes.Interface, services coreinformers.ServiceInformer, pods coreinformers.PodInformer,
	endpoints coreinformers.EndpointsInformer, recorder record.EventRecorder) (*Controller, error) {
	c := &Controller{
		kube:      kube,
		services:  services.Lister(),
		pods:      pods.Lister(),
		endpoints: endpoints.Lister(),
		synced:    []cache.InformerSynced{services.Informer().HasSynced, pods.Informer().HasSynced, endpoints.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint"}),
		recorder: recorder,
		triggers: membership.NewTriggerTimes(),
	}
	// Handlers only work out which service keys to queue; sync reads the
	// current state of everything itself.
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
	// A deleted Endpoints comes back at once if its service still wants it.
	if _, err := endpoints.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: c.enqueue}); err != nil {
		return nil, fmt.Errorf("watch endpoints: %w", err)
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

	slog.Info("starting controller", "controller", ControllerName, "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("endpoint controller: caches did not sync")
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.runWorker, time.Second)
	}
	c.queueLeftovers()
	<-ctx.Done()
	slog.Info("stopping controller", "controller", ControllerName)
	return nil
}

// queueLeftovers queues, once at start, every Endpoints we manage: those
// whose Service was deleted while we were down get deleted then. (Only
// ours: hand-written Endpoints need no Service.)
func (c *Controller) queueLeftovers() {
	list, err := c.endpoints.List(labels.SelectorFromSet(labels.Set{LabelManagedBy: ControllerName}))
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("list endpoints: %w", err))
		return
	}
	for _, ep := range list {
		c.queue.Add(ep.Namespace + "/" + ep.Name)
	}
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
	// Done lets another worker take this key again; until then a service
	// is never synced twice at once.
	defer c.queue.Done(key)

	err := c.sync(ctx, key)
	switch {
	case err == nil:
		c.queue.Forget(key) // reset the back-off
	case c.queue.NumRequeues(key) < maxRetries:
		slog.Debug("endpoints sync failed, will retry", "service", key, "err", err)
		c.queue.AddRateLimited(key)
	default:
		slog.Warn("dropping service out of the endpoints queue", "service", key, "err", err)
		c.queue.Forget(key)
	}
	return true
}
