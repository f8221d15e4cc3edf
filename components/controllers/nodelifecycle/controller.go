// Package nodelifecycle is the node lifecycle controller of
// kube-controller-manager: it notices nodes that stopped talking and
// turns that into facts other loops act on.
//
// A kubelet proves it is alive two ways: it renews its Lease in
// kube-node-lease every 10s, and it posts node status (the Ready
// condition's lastHeartbeatTime). This controller remembers, on its own
// clock, when either last moved:
//
//	every --node-monitor-period (monitor.go)
//	  for each node: heartbeat moved? ─▶ probe = now
//	  silent > --node-monitor-grace-period ─▶ Ready, *Pressure = Unknown (status)
//	  │                                        pods on it: Ready=False (Endpoints drop them)
//	  Ready False/Unknown ─▶ zone queue ─▶ token bucket ─▶ not-ready / unreachable:NoExecute
//	  Ready True          ─▶ remove the NoExecute taints
//	node changes (worker) ─▶ NoSchedule taints from conditions and cordon
//
// The NoExecute taints do not delete anything themselves: the taint
// eviction controller (package tainteviction) deletes the pods that do not
// tolerate them, after their tolerationSeconds (300s by default, added to
// every pod by the API server's DefaultTolerationSeconds admission).
// Tainting is rate limited per zone, and stops altogether when every zone
// looks dead: then the trouble is more likely our own network than all
// kubelets at once, and evicting everything would make it worse.
package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coordinformers "k8s.io/client-go/informers/coordination/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// NodeNameIndex indexes pods by spec.nodeName (upstream uses the same name,
// so controllers sharing the pod informer share the index).
const NodeNameIndex = "spec.nodeName"

// Options are the controller's settings, upstream's flags.
type Options struct {
	// MonitorPeriod: how often node health is checked (--node-monitor-period, 5s).
	MonitorPeriod time.Duration
	Periods
	Eviction
}

// Controller watches node heartbeats and taints unhealthy nodes.
type Controller struct {
	// kube writes node status, node taints, and pod status.
	kube kubernetes.Interface
	// recorder writes Events as "node-controller", upstream's source name.
	recorder record.EventRecorder
	// nodes, leases, pods read the informers' caches.
	nodes  corelisters.NodeLister
	leases coordlisters.LeaseLister
	pods   corelisters.PodLister
	// podsByNode finds the pods on a node without listing them all.
	podsByNode cache.Indexer
	synced     []cache.InformerSynced
	// nodeQueue holds node names whose NoSchedule taints need a look.
	nodeQueue workqueue.TypedRateLimitingInterface[string]
	// podQueue holds pods whose node may be not ready (mark them not ready).
	podQueue workqueue.TypedRateLimitingInterface[string]
	clock    clock.Clock
	o        Options

	// mu guards the state the monitor and the tainting pass share.
	mu sync.Mutex
	// health is the per-node heartbeat record (upstream nodeHealthMap).
	health map[string]*health
	// known are the nodes seen in the last pass (for Registered/Removing events).
	known map[string]bool
	// retry are nodes whose pods could not all be marked not ready.
	retry map[string]bool
	// zones: each zone's state and its NoExecute tainter.
	zoneStates map[string]zoneState
	tainters   map[string]*tainter
}

// New builds the controller on the shared informers.
func New(kube kubernetes.Interface, recorder record.EventRecorder, nodes coreinformers.NodeInformer,
	leases coordinformers.LeaseInformer, pods coreinformers.PodInformer, o Options) (*Controller, error) {
	if o.MonitorPeriod <= 0 || o.Grace <= 0 || o.Startup <= 0 {
		return nil, fmt.Errorf("node lifecycle: monitor period %s, grace periods %s/%s must be positive", o.MonitorPeriod, o.Grace, o.Startup)
	}
	o.Eviction = o.Eviction.withDefaults()
	if err := AddNodeNameIndex(pods.Informer()); err != nil {
		return nil, err
	}
	c := &Controller{
		kube: kube, recorder: recorder,
		nodes: nodes.Lister(), leases: leases.Lister(), pods: pods.Lister(),
		podsByNode: pods.Informer().GetIndexer(),
		synced:     []cache.InformerSynced{nodes.Informer().HasSynced, leases.Informer().HasSynced, pods.Informer().HasSynced},
		nodeQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "node_lifecycle_controller"}),
		podQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "node_lifecycle_controller_pods"}),
		clock: clock.RealClock{}, o: o,
		health: map[string]*health{}, known: map[string]bool{}, retry: map[string]bool{},
		zoneStates: map[string]zoneState{}, tainters: map[string]*tainter{},
	}
	_, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueNode,
		UpdateFunc: func(_, obj interface{}) { c.enqueueNode(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("watch nodes: %w", err)
	}
	_, err = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueuePod,
		UpdateFunc: func(_, obj interface{}) { c.enqueuePod(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("watch pods: %w", err)
	}
	return c, nil
}

// AddNodeNameIndex adds the spec.nodeName index to a pod informer unless
// another controller on the same shared informer added it already.
func AddNodeNameIndex(pods cache.SharedIndexInformer) error {
	if _, ok := pods.GetIndexer().GetIndexers()[NodeNameIndex]; ok {
		return nil
	}
	err := pods.AddIndexers(cache.Indexers{NodeNameIndex: func(obj interface{}) ([]string, error) {
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.Spec.NodeName == "" {
			return nil, nil
		}
		return []string{pod.Spec.NodeName}, nil
	}})
	if err != nil {
		return fmt.Errorf("index pods by node: %w", err)
	}
	return nil
}

func (c *Controller) enqueueNode(obj interface{}) {
	if node, ok := obj.(*corev1.Node); ok {
		c.nodeQueue.Add(node.Name)
	}
}

func (c *Controller) enqueuePod(obj interface{}) {
	if pod, ok := obj.(*corev1.Pod); ok && pod.Spec.NodeName != "" {
		c.podQueue.Add(pod.Namespace + "/" + pod.Name)
	}
}

// Run waits for the caches, then runs the monitor, the tainting pass and
// the workers until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer utilruntime.HandleCrash()
	defer c.nodeQueue.ShutDown()
	defer c.podQueue.ShutDown()
	slog.Info("starting controller", "controller", "nodelifecycle", "monitorPeriod", c.o.MonitorPeriod,
		"gracePeriod", c.o.Grace, "evictionRate", c.o.Rate)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("node lifecycle controller: caches did not sync")
	}
	go wait.UntilWithContext(ctx, func(ctx context.Context) { runQueue(ctx, c.nodeQueue, c.syncNode) }, time.Second)
	go wait.UntilWithContext(ctx, func(ctx context.Context) { runQueue(ctx, c.podQueue, c.syncPod) }, time.Second)
	go wait.UntilWithContext(ctx, c.monitor, c.o.MonitorPeriod)
	// upstream's NodeEvictionPeriod: how often the zone queues are drained.
	go wait.UntilWithContext(ctx, c.taintPass, 100*time.Millisecond)
	<-ctx.Done()
	slog.Info("stopping controller", "controller", "nodelifecycle")
	return nil
}

// runQueue is the worker loop: Done always, Forget on success, back off
// on failure.
func runQueue(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], sync func(context.Context, string) error) {
	for {
		key, shutdown := q.Get()
		if shutdown {
			return
		}
		if err := sync(ctx, key); err != nil {
			slog.Warn("node lifecycle sync failed, will retry", "key", key, "err", err)
			q.AddRateLimited(key)
		} else {
			q.Forget(key)
		}
		q.Done(key)
	}
}
