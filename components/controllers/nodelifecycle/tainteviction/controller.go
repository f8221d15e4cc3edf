// Package tainteviction is the taint eviction controller of
// kube-controller-manager ("taint-eviction-controller"): it deletes pods
// from nodes with NoExecute taints they do not tolerate.
//
// The node lifecycle controller taints a dead node
// node.kubernetes.io/unreachable:NoExecute; `kubectl taint node n1
// key=value:NoExecute` does the same by hand. Every pod carries
// tolerations for the two node-health taints with tolerationSeconds 300
// (added by the API server's DefaultTolerationSeconds admission), so by
// default a dead node's pods go after five minutes and their ReplicaSets
// start replacements elsewhere:
//
//	node taints change ─┐
//	pod changes ────────┴─▶ queue of pods ─▶ sync(pod)
//	                          decide(taints, tolerations)
//	                            ├─ untolerated          ─▶ delete now
//	                            ├─ tolerationSeconds    ─▶ come back at taint time + seconds
//	                            └─ tolerated for ever   ─▶ nothing (cancel a planned eviction)
//	                          delete: DisruptionTarget condition, Event, DELETE
package tainteviction

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// NodeNameIndex must match the index the node lifecycle controller adds.
const NodeNameIndex = "spec.nodeName"

// Controller evicts pods from nodes with NoExecute taints.
type Controller struct {
	// kube patches pod status and deletes pods.
	kube kubernetes.Interface
	// recorder writes TaintManagerEviction events.
	recorder record.EventRecorder
	pods     corelisters.PodLister
	nodes    corelisters.NodeLister
	// podsByNode finds the pods to look at when a node's taints change.
	podsByNode cache.Indexer
	synced     []cache.InformerSynced
	// queue holds pod keys; a planned eviction is the pod's key added
	// back for the moment its toleration runs out.
	queue workqueue.TypedRateLimitingInterface[string]
	clock clock.Clock

	mu sync.Mutex
	// planned: pods with an eviction scheduled, so that cancelling one can
	// be told (event "Cancelling deletion of Pod").
	planned map[string]time.Time
	// evicted: pods we deleted (by UID), so that the status update our
	// own condition patch causes does not delete them, and tell it, twice.
	evicted map[string]types.UID
	// firstSeen: when we first saw a taint without timeAdded (a taint
	// written by hand), per node/key/effect.
	firstSeen map[string]time.Time
}

// New builds the controller; addIndex adds the spec.nodeName index to the
// pod informer if nobody has yet.
func New(kube kubernetes.Interface, recorder record.EventRecorder, pods coreinformers.PodInformer,
	nodes coreinformers.NodeInformer, addIndex func(cache.SharedIndexInformer) error) (*Controller, error) {
	if err := addIndex(pods.Informer()); err != nil {
		return nil, err
	}
	c := &Controller{
		kube: kube, recorder: recorder,
		pods: pods.Lister(), nodes: nodes.Lister(), podsByNode: pods.Informer().GetIndexer(),
		synced: []cache.InformerSynced{pods.Informer().HasSynced, nodes.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "taint_eviction"}),
		clock:   clock.RealClock{},
		planned: map[string]time.Time{}, evicted: map[string]types.UID{}, firstSeen: map[string]time.Time{},
	}
	_, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueuePod,
		UpdateFunc: func(_, obj interface{}) { c.enqueuePod(obj) },
		DeleteFunc: c.enqueuePod,
	})
	if err != nil {
		return nil, fmt.Errorf("watch pods: %w", err)
	}
	_, err = nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { c.enqueueNodePods(nil, obj) },
		UpdateFunc: c.enqueueNodePods,
	})
	if err != nil {
		return nil, fmt.Errorf("watch nodes: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueuePod(obj interface{}) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		c.queue.Add(pod.Namespace + "/" + pod.Name)
	}
}

// enqueueNodePods queues a node's pods when its NoExecute taints change.
func (c *Controller) enqueueNodePods(oldObj, obj interface{}) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	if old, ok := oldObj.(*corev1.Node); ok && apiequality.Semantic.DeepEqual(noExecute(old.Spec.Taints), noExecute(node.Spec.Taints)) {
		return
	}
	objs, err := c.podsByNode.ByIndex(NodeNameIndex, node.Name)
	if err != nil {
		return
	}
	for _, o := range objs {
		c.enqueuePod(o)
	}
}

// Run waits for the caches and runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	slog.Info("starting controller", "controller", "taint-eviction-controller", "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("taint eviction controller: caches did not sync")
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.runWorker, time.Second)
	}
	<-ctx.Done()
	slog.Info("stopping controller", "controller", "taint-eviction-controller")
	return nil
}

func (c *Controller) runWorker(ctx context.Context) {
	for {
		key, shutdown := c.queue.Get()
		if shutdown {
			return
		}
		after, err := c.sync(ctx, key)
		switch {
		case err != nil:
			slog.Warn("taint eviction failed, will retry", "pod", key, "err", err)
			c.queue.AddRateLimited(key)
		case after > 0:
			c.queue.Forget(key)
			c.queue.AddAfter(key, after) // the planned eviction
		default:
			c.queue.Forget(key)
		}
		c.queue.Done(key)
	}
}
