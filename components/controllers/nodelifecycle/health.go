package nodelifecycle

import (
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// health is what the controller remembers about one node between passes
// (upstream's nodeHealthData). The kubelet's timestamps are only compared
// with the kubelet's own earlier timestamps: "did it move?". When they
// move, we note *our* clock in probe, and the grace period is measured on
// our clock only, so a kubelet whose clock is off by an hour is judged
// fairly.
type health struct {
	// probe is our time of the last sign of life.
	probe time.Time
	// heartbeat is the Ready condition's lastHeartbeatTime we last saw
	// (nil: the node had no Ready condition).
	heartbeat *metav1.Time
	// renew is the node Lease's spec.renewTime we last saw.
	renew *metav1.MicroTime
}

// Periods are the grace periods of the health check.
type Periods struct {
	// Grace: how long a node that reported before may stay silent
	// (--node-monitor-grace-period).
	Grace time.Duration
	// Startup: the same for a node that never reported (--node-startup-grace-period).
	Startup time.Duration
}

// observe folds what we see now (node status, lease) into the previous
// record and returns the new record and the grace period that applies.
// prev is nil for a node seen for the first time.
func observe(prev *health, node *corev1.Node, lease *coordinationv1.Lease, now time.Time, p Periods) (health, time.Duration) {
	ready := condition(node.Status.Conditions, corev1.NodeReady)
	grace := p.Grace
	var h health
	switch {
	case ready == nil && prev == nil:
		// Never posted status: the startup grace runs from the node's creation.
		grace = p.Startup
		h = health{probe: node.CreationTimestamp.Time}
	case ready == nil:
		grace = p.Startup
		h = *prev
		h.heartbeat = nil
	case prev == nil || prev.heartbeat == nil:
		// First time we see a Ready condition: count from now.
		h = health{probe: now, heartbeat: ready.LastHeartbeatTime.DeepCopy()}
	default:
		h = *prev
		if !prev.heartbeat.Equal(&ready.LastHeartbeatTime) {
			h.probe, h.heartbeat = now, ready.LastHeartbeatTime.DeepCopy()
		}
	}
	if prev != nil {
		h.renew = prev.renew
	}
	// A renewed Lease is a heartbeat too (the kubelet renews it every 10s
	// and posts full status only when something changes, or every 5 minutes).
	if lease != nil && lease.Spec.RenewTime != nil && (h.renew == nil || h.renew.Before(lease.Spec.RenewTime)) {
		h.renew = lease.Spec.RenewTime.DeepCopy()
		h.probe = now
	}
	return h, grace
}

// silent reports whether the node has been quiet for longer than grace.
func (h health) silent(now time.Time, grace time.Duration) bool {
	return now.After(h.probe.Add(grace))
}

// unknownConditions are the conditions the kubelet owns that we set to
// Unknown when it goes silent: nobody knows anymore.
var unknownConditions = []corev1.NodeConditionType{
	corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure,
}

// markUnknown sets the kubelet's conditions on node to Unknown, as
// upstream does, and reports whether anything changed.
func markUnknown(node *corev1.Node, now time.Time) bool {
	changed := false
	for _, t := range unknownConditions {
		c := condition(node.Status.Conditions, t)
		switch {
		case c == nil:
			node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{
				Type: t, Status: corev1.ConditionUnknown,
				Reason: "NodeStatusNeverUpdated", Message: "Kubelet never posted node status.",
				LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: metav1.NewTime(now),
			})
			changed = true
		case c.Status != corev1.ConditionUnknown:
			c.Status = corev1.ConditionUnknown
			c.Reason = "NodeStatusUnknown"
			c.Message = "Kubelet stopped posting node status."
			c.LastTransitionTime = metav1.NewTime(now)
			changed = true
		}
	}
	return changed
}

// condition finds a condition by type (nil when absent); the pointer
// points into the slice, so callers may change it in place.
func condition(list []corev1.NodeCondition, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range list {
		if list[i].Type == t {
			return &list[i]
		}
	}
	return nil
}

// readyStatus is the node's Ready status, Unknown when it has none.
func readyStatus(node *corev1.Node) corev1.ConditionStatus {
	if c := condition(node.Status.Conditions, corev1.NodeReady); c != nil {
		return c.Status
	}
	return corev1.ConditionUnknown
}
