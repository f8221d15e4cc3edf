package nodelifecycle

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// monitor is one health pass over all nodes (upstream monitorNodeHealth).
func (c *Controller) monitor(ctx context.Context) {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		slog.Warn("list nodes from cache", "err", err)
		return
	}
	c.registerAndForget(nodes)
	zoneStatuses := map[string][]corev1.ConditionStatus{}
	for _, cached := range nodes {
		node := c.updateHealth(ctx, cached)
		zone := zoneKey(node)
		c.ensureZone(zone)
		if !excludedFromDisruption(node) {
			zoneStatuses[zone] = append(zoneStatuses[zone], readyStatus(node))
		}
		c.taintForEviction(ctx, node)
	}
	c.handleDisruption(ctx, zoneStatuses, nodes)
}

// updateHealth folds the node's heartbeats into our record, marks a silent
// node's conditions Unknown, and returns the node as it now is.
func (c *Controller) updateHealth(ctx context.Context, cached *corev1.Node) *corev1.Node {
	now := c.clock.Now()
	node := cached.DeepCopy()
	lease, _ := c.leases.Leases(corev1.NamespaceNodeLease).Get(node.Name)
	c.mu.Lock()
	h, grace := observe(c.health[node.Name], node, lease, now, c.o.Periods)
	c.health[node.Name] = &h
	retry := c.retry[node.Name]
	c.mu.Unlock()

	observed := readyStatus(cached)
	if condition(cached.Status.Conditions, corev1.NodeReady) == nil {
		observed = "" // never reported: not a transition from True
	}
	if h.silent(now, grace) && markUnknown(node, now) {
		updated, err := c.kube.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		if err != nil {
			slog.Warn("mark node status unknown", "node", node.Name, "err", err)
			return cached // try again next pass
		}
		slog.Info("node stopped posting status", "node", node.Name, "silentFor", now.Sub(h.probe).Round(1e6))
		node = updated
	}
	current := readyStatus(node)
	if current != corev1.ConditionTrue && (observed == corev1.ConditionTrue || retry) {
		if observed == corev1.ConditionTrue {
			c.recorder.Eventf(node, corev1.EventTypeNormal, "NodeNotReady", "Node %s status is now: NodeNotReady", node.Name)
		}
		err := c.markPodsNotReady(ctx, node.Name)
		c.mu.Lock()
		c.retry[node.Name] = err != nil
		c.mu.Unlock()
		if err != nil {
			slog.Warn("mark pods not ready", "node", node.Name, "err", err)
		}
	}
	return node
}

// registerAndForget records RegisteredNode / RemovingNode events and drops
// what we remembered about deleted nodes.
func (c *Controller) registerAndForget(nodes []*corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	for _, n := range nodes {
		seen[n.Name] = true
		if !c.known[n.Name] {
			c.recorder.Eventf(n, corev1.EventTypeNormal, "RegisteredNode", "Node %s event: Registered Node %s in Controller", n.Name, n.Name)
		}
	}
	for name := range c.known {
		if !seen[name] {
			ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: name}
			c.recorder.Eventf(ref, corev1.EventTypeNormal, "RemovingNode", "Node %s event: Removing Node %s from Controller", name, name)
			delete(c.health, name)
			delete(c.retry, name)
			for _, t := range c.tainters {
				t.forget(name)
			}
		}
	}
	c.known = seen
}

func (c *Controller) ensureZone(zone string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.tainters[zone]; !ok {
		c.tainters[zone] = newTainter(c.clock, c.o.Rate)
		c.zoneStates[zone] = stateInitial
	}
}
