// Package podautoscaler is the HorizontalPodAutoscaler controller of
// kube-controller-manager: every sync period it compares what the pods of a
// workload use with the HPA's target and resizes the workload.
//
//	HPA informer ─▶ queue ─▶ sync(key), again every --horizontal-pod-autoscaler-sync-period
//	                           ├─ GET <target>/scale        (any kind with a scale
//	                           │    via RESTMapper + scale client   subresource)
//	                           ├─ pod usage ◀── MetricsClient ◀── metrics.k8s.io PodMetrics
//	                           │  + pod requests (pod informer)
//	                           ├─ proposal = ceil(current × usage/target), 10% tolerance
//	                           ├─ normalize: stabilization window, behavior policies,
//	                           │  min/maxReplicas
//	                           ├─ PUT <target>/scale        (event SuccessfulRescale)
//	                           └─ HPA status: replicas, currentMetrics, conditions
//
// The autoscaler never touches pods: it only writes spec.replicas through
// the /scale subresource, and the workload's own controller (Deployment,
// ReplicaSet, StatefulSet, or a custom one) does the rest.
package podautoscaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	autoscalinginformers "k8s.io/client-go/informers/autoscaling/v2"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// Options are the controller's tunables (upstream's flags).
type Options struct {
	// SyncPeriod: how often each HPA is evaluated (15s).
	SyncPeriod time.Duration
	// DownscaleStabilization: the scale-down window (5m).
	DownscaleStabilization time.Duration
	// Tolerance: the dead band around the target (0.1); zero means 0.1.
	Tolerance float64
}

// Controller runs HorizontalPodAutoscalers.
type Controller struct {
	// kube writes HPA status.
	kube kubernetes.Interface
	// scales reads and writes /scale of any resource; mapper finds the
	// resource (deployments.apps) for a target's kind (Deployment).
	scales scale.ScalesGetter
	mapper apimeta.RESTMapper
	// calc reads metrics and pods and proposes replica counts.
	calc *calculator
	// hpas reads autoscalers from the informer cache.
	hpas   autoscalinglisters.HorizontalPodAutoscalerLister
	synced []cache.InformerSynced
	// queue holds "namespace/name" of HPAs; each comes back every period.
	queue workqueue.TypedRateLimitingInterface[string]
	// history remembers recommendations and scale events per HPA.
	history  *history
	recorder record.EventRecorder

	syncPeriod, downscaleWindow time.Duration
	tolerance                   float64
	now                         func() time.Time
}

// New builds an HPA controller.
func New(kube kubernetes.Interface, scales scale.ScalesGetter, mapper apimeta.RESTMapper, metrics MetricsClient,
	hpas autoscalinginformers.HorizontalPodAutoscalerInformer, pods coreinformers.PodInformer, recorder record.EventRecorder, o Options) (*Controller, error) {
	if o.Tolerance == 0 {
		o.Tolerance = defaultTolerance
	}
	c := &Controller{
		kube: kube, scales: scales, mapper: mapper,
		hpas:     hpas.Lister(),
		synced:   []cache.InformerSynced{hpas.Informer().HasSynced, pods.Informer().HasSynced},
		history:  newHistory(),
		recorder: recorder,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "horizontalpodautoscaler"}),
		syncPeriod: o.SyncPeriod, downscaleWindow: o.DownscaleStabilization, tolerance: o.Tolerance,
		now: time.Now,
	}
	c.calc = &calculator{metrics: metrics, pods: pods.Lister(), now: func() time.Time { return c.now() }}
	_, err := hpas.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue,
		// Our own status writes come back as updates: only a spec change
		// (a new generation) is worth an early sync.
		UpdateFunc: func(oldObj, newObj interface{}) {
			if oldObj.(*autoscalingv2.HorizontalPodAutoscaler).Generation != newObj.(*autoscalingv2.HorizontalPodAutoscaler).Generation {
				c.enqueue(newObj)
			}
		},
		DeleteFunc: func(obj interface{}) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				c.history.forget(key)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("watch horizontalpodautoscalers: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj interface{}) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// Run waits for the caches, starts workers, and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	slog.Info("starting controller", "controller", "horizontalpodautoscaling", "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("horizontal pod autoscaler: caches did not sync")
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.runWorker, time.Second)
	}
	<-ctx.Done()
	slog.Info("stopping controller", "controller", "horizontalpodautoscaling")
	return nil
}

func (c *Controller) runWorker(ctx context.Context) {
	for c.processNextItem(ctx) {
	}
}

// processNextItem syncs one HPA and schedules its next evaluation. A
// failure is not retried faster: the HPA's conditions and events already
// say what went wrong, and the next period tries again (as upstream).
func (c *Controller) processNextItem(ctx context.Context) bool {
	key, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(key)
	deleted, err := c.sync(ctx, key)
	if err != nil {
		slog.Warn("horizontal pod autoscaler sync failed", "hpa", key, "err", err)
	}
	c.queue.Forget(key)
	if !deleted {
		// A key waiting already keeps its earlier time: no duplicates pile up.
		c.queue.AddAfter(key, c.syncPeriod)
	}
	return true
}
