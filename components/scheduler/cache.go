package scheduler

import (
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubelab/kubelab/components/scheduler/framework"
)

// Cache is the scheduler's own picture of which pods are on which node:
// what the watches said, plus "assumed" pods the scheduler has placed but
// whose binding it has not yet seen come back. Counting assumed pods is what
// lets the next cycle start at once, without waiting for the API server:
//
//	cycle N: pod a → node-1, assume(a)   ─▶ node-1's requests include a
//	cycle N+1: pod b sees node-1 with a  ─▶ no overcommit
//	   ... bind(a) returns, watch delivers a with nodeName=node-1 ─▶ confirmed
//
// If the binding fails, the assumed pod is forgotten; if it succeeded but
// the watch never shows it (the pod was deleted in between), it expires
// assumedTTL after the binding finished.
type Cache struct {
	mu    sync.Mutex
	nodes map[string]*framework.NodeInfo
	pods  map[types.UID]*podState
	// dirty names the nodes changed since the last UpdateSnapshot, so a
	// snapshot copies only those (one of 5000, typically).
	dirty map[string]struct{}
	// nodeSetChanged says a node came or went: the snapshot's list must
	// be rebuilt.
	nodeSetChanged bool
	ttl            time.Duration
	now            func() time.Time
}

type podState struct {
	info     *framework.PodInfo
	assumed  bool
	deadline time.Time // zero until the binding finished
}

// NewCache makes an empty cache whose assumed pods expire ttl after their
// binding finished.
func NewCache(ttl time.Duration) *Cache {
	return &Cache{nodes: map[string]*framework.NodeInfo{}, pods: map[types.UID]*podState{},
		dirty: map[string]struct{}{}, ttl: ttl, now: time.Now}
}

// nodeInfo returns the NodeInfo for name, creating an empty one (pods can
// arrive before their node).
func (c *Cache) nodeInfo(name string) *framework.NodeInfo {
	ni, ok := c.nodes[name]
	if !ok {
		ni = framework.NewNodeInfo(nil)
		c.nodes[name] = ni
	}
	c.dirty[name] = struct{}{}
	return ni
}

// AddNode adds or updates a node.
func (c *Cache) AddNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni := c.nodeInfo(node.Name)
	if ni.Node == nil {
		c.nodeSetChanged = true
	}
	ni.SetNode(node)
}

// RemoveNode drops a node. Its pods stay counted under its name, in case it
// comes back before they are deleted.
func (c *Cache) RemoveNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni, ok := c.nodes[name]
	if !ok {
		return
	}
	c.dirty[name] = struct{}{}
	c.nodeSetChanged = true
	if len(ni.Pods) == 0 {
		delete(c.nodes, name)
		return
	}
	ni.SetNode(nil)
}

// AddPod records a pod the watch shows on a node. An assumed pod becomes
// confirmed (and moves if it landed elsewhere, which only another
// scheduler could have done).
func (c *Cache) AddPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[pod.UID]; ok {
		c.removeLocked(ps.info.Pod)
	}
	c.addLocked(pod, false)
}

// UpdatePod replaces a pod's object (its requests may have changed).
func (c *Cache) UpdatePod(pod *corev1.Pod) { c.AddPod(pod) }

// RemovePod forgets a pod that was deleted or finished.
func (c *Cache) RemovePod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[pod.UID]; ok {
		c.removeLocked(ps.info.Pod)
	}
}

func (c *Cache) addLocked(pod *corev1.Pod, assumed bool) {
	pi := framework.NewPodInfo(pod)
	c.nodeInfo(pod.Spec.NodeName).AddPod(pi)
	c.pods[pod.UID] = &podState{info: pi, assumed: assumed}
}

func (c *Cache) removeLocked(pod *corev1.Pod) {
	delete(c.pods, pod.UID)
	ni, ok := c.nodes[pod.Spec.NodeName]
	if !ok {
		return
	}
	ni.RemovePod(pod)
	c.dirty[pod.Spec.NodeName] = struct{}{}
	if ni.Node == nil && len(ni.Pods) == 0 {
		delete(c.nodes, pod.Spec.NodeName)
	}
}

// AssumePod counts pod (with spec.nodeName set) on its node before the
// binding is confirmed.
func (c *Cache) AssumePod(pod *corev1.Pod) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pods[pod.UID]; ok {
		return fmt.Errorf("assume pod %s/%s: already in the cache", pod.Namespace, pod.Name)
	}
	c.addLocked(pod, true)
	return nil
}

// FinishBinding starts an assumed pod's expiry clock.
func (c *Cache) FinishBinding(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[pod.UID]; ok && ps.assumed {
		ps.deadline = c.now().Add(c.ttl)
	}
}

// ForgetPod un-assumes a pod whose binding failed.
func (c *Cache) ForgetPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[pod.UID]; ok && ps.assumed {
		c.removeLocked(ps.info.Pod)
	}
}

// IsAssumed reports whether pod is assumed and not yet confirmed.
func (c *Cache) IsAssumed(pod *corev1.Pod) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.pods[pod.UID]
	return ok && ps.assumed
}

// CleanupExpired drops assumed pods whose binding finished more than ttl
// ago without the watch confirming them.
func (c *Cache) CleanupExpired() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for _, ps := range c.pods {
		if ps.assumed && !ps.deadline.IsZero() && now.After(ps.deadline) {
			c.removeLocked(ps.info.Pod)
		}
	}
}

// Counts returns how many nodes and pods the cache holds.
func (c *Cache) Counts() (nodes, pods int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ni := range c.nodes {
		if ni.Node != nil {
			nodes++
		}
	}
	return nodes, len(c.pods)
}
