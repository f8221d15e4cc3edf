package nodelifecycle

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
)

// taintForEviction queues an unhealthy node for its NoExecute taint, swaps
// not-ready and unreachable at once when the kind of trouble changes, and
// removes both when the node is ready (upstream processTaintBaseEviction).
func (c *Controller) taintForEviction(ctx context.Context, node *corev1.Node) {
	var want, opposite corev1.Taint
	switch readyStatus(node) {
	case corev1.ConditionFalse:
		want, opposite = NotReadyNoExecute, UnreachableNoExecute
	case corev1.ConditionUnknown:
		want, opposite = UnreachableNoExecute, NotReadyNoExecute
	default:
		c.markReachable(ctx, node)
		return
	}
	switch {
	case hasTaint(node.Spec.Taints, want):
		// Tainted already (perhaps before a restart): spend no token on it.
		c.withTainter(node, func(t *tainter) { t.queued[node.Name] = true })
	case hasTaint(node.Spec.Taints, opposite):
		// Already evicting: changing the reason is no new decision.
		if err := swapTaints(ctx, c.kube, node, []corev1.Taint{want}, []corev1.Taint{opposite}, c.clock.Now()); err != nil {
			slog.Warn("swap NoExecute taint", "node", node.Name, "err", err)
		}
	default:
		c.withTainter(node, func(t *tainter) {
			if t.add(node.Name) {
				slog.Info("node is not ready, queued for NoExecute taint", "node", node.Name, "ready", readyStatus(node))
			}
		})
	}
}

// markReachable removes the NoExecute taints from a node (ready again, or
// all zones are down and we stop evicting).
func (c *Controller) markReachable(ctx context.Context, node *corev1.Node) {
	c.withTainter(node, func(t *tainter) { t.forget(node.Name) })
	if !hasTaint(node.Spec.Taints, NotReadyNoExecute) && !hasTaint(node.Spec.Taints, UnreachableNoExecute) {
		return
	}
	err := swapTaints(ctx, c.kube, node, nil, []corev1.Taint{NotReadyNoExecute, UnreachableNoExecute}, c.clock.Now())
	if err != nil {
		slog.Warn("remove NoExecute taints", "node", node.Name, "err", err)
	}
}

func (c *Controller) withTainter(node *corev1.Node, f func(*tainter)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.tainters[zoneKey(node)]; ok {
		f(t)
	}
}

// handleDisruption sets each zone's tainting rate from its state, and
// stops all tainting (removing the NoExecute taints) while every zone is
// fully disrupted (upstream handleDisruption).
func (c *Controller) handleDisruption(ctx context.Context, zoneStatuses map[string][]corev1.ConditionStatus, nodes []*corev1.Node) {
	newStates := map[string]zoneState{}
	allAre := true
	for zone, statuses := range zoneStatuses {
		newStates[zone] = computeZoneState(statuses, c.o.UnhealthyZoneThreshold)
		if newStates[zone] != stateFullDisruption {
			allAre = false
		}
	}
	c.mu.Lock()
	allWere := true
	for zone, state := range c.zoneStates {
		if _, ok := zoneStatuses[zone]; !ok {
			delete(c.zoneStates, zone)
			delete(c.tainters, zone)
			continue
		}
		if state != stateFullDisruption {
			allWere = false
		}
	}
	c.mu.Unlock()
	if allAre && allWere {
		return
	}
	if allAre {
		slog.Warn("all nodes in all zones are not ready: stopping NoExecute tainting (master disruption mode)")
		for _, n := range nodes {
			if fresh, err := c.nodes.Get(n.Name); err == nil {
				c.markReachable(ctx, fresh)
			}
		}
		c.mu.Lock()
		for zone := range c.zoneStates {
			c.tainters[zone].setRate(0)
			c.zoneStates[zone] = stateFullDisruption
		}
		c.mu.Unlock()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if allWere {
		// Back from the outage: give every node a fresh grace period before
		// judging it, as kubelets need a moment to get through again.
		slog.Info("some nodes are ready again: leaving master disruption mode")
		now := c.clock.Now()
		for _, h := range c.health {
			h.probe = now
		}
	}
	for zone, state := range c.zoneStates {
		if ns := newStates[zone]; allWere || ns != state {
			if ns != state {
				slog.Info("zone state changed", "zone", zone, "state", ns)
			}
			c.tainters[zone].setRate(c.o.rateFor(ns, len(zoneStatuses[zone])))
			c.zoneStates[zone] = ns
		}
	}
}

// taintPass drains the zone queues as fast as their token buckets allow
// (upstream doNoExecuteTaintingPass).
func (c *Controller) taintPass(ctx context.Context) {
	for {
		c.mu.Lock()
		var name string
		var t *tainter
		for _, zt := range c.tainters {
			if n, ok := zt.next(); ok {
				name, t = n, zt
				break
			}
		}
		c.mu.Unlock()
		if t == nil {
			return
		}
		ok := c.taintNode(ctx, name)
		c.mu.Lock()
		if ok {
			t.done(name)
		} else {
			t.retryLater(name)
		}
		c.mu.Unlock()
	}
}

// taintNode gives a queued node the NoExecute taint its Ready condition
// calls for; it reports false when the write failed.
func (c *Controller) taintNode(ctx context.Context, name string) bool {
	node, err := c.nodes.Get(name)
	if err != nil {
		return true // deleted: nothing to do
	}
	var want, opposite corev1.Taint
	switch readyStatus(node) {
	case corev1.ConditionFalse:
		want, opposite = NotReadyNoExecute, UnreachableNoExecute
	case corev1.ConditionUnknown:
		want, opposite = UnreachableNoExecute, NotReadyNoExecute
	default:
		return true // ready again before its turn came
	}
	if err := swapTaints(ctx, c.kube, node, []corev1.Taint{want}, []corev1.Taint{opposite}, c.clock.Now()); err != nil {
		slog.Warn("taint unhealthy node", "node", name, "taint", want.ToString(), "err", err)
		return false
	}
	slog.Info("tainted unhealthy node", "node", name, "taint", want.ToString())
	return true
}
