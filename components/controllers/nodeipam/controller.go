// Package nodeipam is the node IPAM controller of kube-controller-manager
// (--allocate-node-cidrs): it gives every node its own slice of the pod
// network, so that pod IPs are unique across the cluster without the nodes
// ever talking to each other.
//
//	--cluster-cidr=10.200.0.0/16, --node-cidr-mask-size-ipv4=24
//	  node n1 registers ─▶ queue ─▶ sync(n1)
//	    podCIDR set already? ─▶ mark it taken
//	    else: next free /24 (10.200.0.0/24, 10.200.1.0/24, …)
//	          ─▶ PATCH spec.podCIDR, spec.podCIDRs (set once, never changed)
//	  node n1 deleted ─▶ its /24 is free again
//
// The kubelet reads spec.podCIDR and hands pod IPs out of it (its bridge
// IPAM); routes between nodes (the hard way's lab, or an overlay) send
// 10.200.1.0/24 to the node that owns it. Like upstream's range allocator,
// the bitmap of taken blocks lives only in memory: at start it is rebuilt
// from the nodes' spec.podCIDRs, before any new node is served.
package nodeipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// Controller assigns pod CIDRs to nodes.
type Controller struct {
	// kube reads nodes fresh before allocating and patches their spec.
	kube kubernetes.Interface
	// recorder writes CIDRNotAvailable / CIDRAssignmentFailed events.
	recorder record.EventRecorder
	nodes    corelisters.NodeLister
	synced   cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]

	// mu guards alloc: workers allocate, the delete handler releases.
	mu    sync.Mutex
	alloc *Allocator
}

// New builds the controller around an allocator (see NewAllocator).
func New(kube kubernetes.Interface, recorder record.EventRecorder, nodes coreinformers.NodeInformer, alloc *Allocator) (*Controller, error) {
	c := &Controller{
		kube: kube, recorder: recorder, nodes: nodes.Lister(), synced: nodes.Informer().HasSynced, alloc: alloc,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "nodeipam"}),
	}
	_, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj interface{}) { c.enqueue(obj) },
		DeleteFunc: c.release,
	})
	if err != nil {
		return nil, fmt.Errorf("watch nodes: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj interface{}) {
	if node, ok := obj.(*corev1.Node); ok {
		c.queue.Add(node.Name)
	}
}

// release frees a deleted node's CIDRs (the one thing done in a handler:
// the node is gone from the cache by the time a worker would look).
func (c *Controller) release(obj interface{}) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	node, ok := obj.(*corev1.Node)
	if !ok || len(node.Spec.PodCIDRs) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.alloc.Release(node.Spec.PodCIDRs); err != nil {
		slog.Warn("release node CIDRs", "node", node.Name, "err", err)
		return
	}
	slog.Info("released node CIDRs", "node", node.Name, "podCIDRs", node.Spec.PodCIDRs)
}

// Run rebuilds the allocation map from the existing nodes, then serves.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	slog.Info("starting controller", "controller", "nodeipam", "workers", workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return errors.New("node ipam controller: cache did not sync")
	}
	if err := c.rebuild(); err != nil {
		return err
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.runWorker, time.Second)
	}
	<-ctx.Done()
	slog.Info("stopping controller", "controller", "nodeipam")
	return nil
}

// rebuild marks every node's pod CIDRs taken, so a restart never hands
// out a block twice.
func (c *Controller) rebuild() error {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range nodes {
		if err := c.alloc.Occupy(n.Spec.PodCIDRs); err != nil {
			slog.Warn("node has a pod CIDR we do not manage", "node", n.Name, "podCIDRs", n.Spec.PodCIDRs, "err", err)
		}
	}
	return nil
}

func (c *Controller) runWorker(ctx context.Context) {
	for {
		name, shutdown := c.queue.Get()
		if shutdown {
			return
		}
		if err := c.sync(ctx, name); err != nil {
			slog.Warn("node CIDR allocation failed, will retry", "node", name, "err", err)
			c.queue.AddRateLimited(name)
		} else {
			c.queue.Forget(name)
		}
		c.queue.Done(name)
	}
}

// sync makes sure a node has its pod CIDRs.
func (c *Controller) sync(ctx context.Context, name string) error {
	cached, err := c.nodes.Get(name)
	if err != nil {
		return nil // deleted
	}
	if len(cached.Spec.PodCIDRs) > 0 {
		c.occupy(cached)
		return nil
	}
	// The cache may lag behind our own patch: ask the API server before
	// handing out a second block.
	node, err := c.kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get node %s: %w", name, err)
	}
	if len(node.Spec.PodCIDRs) > 0 {
		c.occupy(node)
		return nil
	}
	c.mu.Lock()
	cidrs, err := c.alloc.Allocate()
	c.mu.Unlock()
	if err != nil {
		c.recorder.Eventf(node, corev1.EventTypeNormal, "CIDRNotAvailable", "Node %s status is now: CIDRNotAvailable", name)
		return fmt.Errorf("node %s: %w", name, err)
	}
	if err := c.patchCIDRs(ctx, name, cidrs); err != nil {
		c.mu.Lock()
		_ = c.alloc.Release(cidrs)
		c.mu.Unlock()
		c.recorder.Eventf(node, corev1.EventTypeNormal, "CIDRAssignmentFailed", "Node %s status is now: CIDRAssignmentFailed", name)
		return err
	}
	slog.Info("allocated node CIDRs", "node", name, "podCIDRs", cidrs)
	return nil
}

func (c *Controller) occupy(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.alloc.Occupy(node.Spec.PodCIDRs); err != nil {
		slog.Warn("node has a pod CIDR we do not manage", "node", node.Name, "podCIDRs", node.Spec.PodCIDRs, "err", err)
	}
}

// patchCIDRs writes spec.podCIDR (the first) and spec.podCIDRs, as
// upstream's PatchNodeCIDRs does. The API server allows this once: a
// node's pod CIDRs never change afterwards.
func (c *Controller) patchCIDRs(ctx context.Context, name string, cidrs []string) error {
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": cidrs[0], "podCIDRs": cidrs}})
	if err != nil {
		return fmt.Errorf("encode pod CIDR patch: %w", err)
	}
	if _, err := c.kube.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("set pod CIDRs %v on node %s: %w", cidrs, name, err)
	}
	return nil
}
