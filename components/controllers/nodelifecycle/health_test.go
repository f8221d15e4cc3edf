package nodelifecycle

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	t0      = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	periods = Periods{Grace: 50 * time.Second, Startup: 60 * time.Second}
)

func readyNode(name string, status corev1.ConditionStatus, heartbeat time.Time) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))}}
	if status != "" {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status,
			LastHeartbeatTime: metav1.NewTime(heartbeat), LastTransitionTime: metav1.NewTime(heartbeat)}}
	}
	return n
}

func lease(renew time.Time) *coordinationv1.Lease {
	r := metav1.NewMicroTime(renew)
	return &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{RenewTime: &r}}
}

// TestObserve: the grace period runs on our clock from the last time a
// heartbeat (status or lease) moved, whatever the kubelet's clock says.
func TestObserve(t *testing.T) {
	skewed := t0.Add(-3 * time.Hour) // a kubelet whose clock is far behind
	tests := []struct {
		name      string
		prev      *health
		node      *corev1.Node
		lease     *coordinationv1.Lease
		at        time.Duration // now = t0 + at
		wantGrace time.Duration
		wantProbe time.Time
		wantQuiet bool
	}{{
		name: "a new node that never reported counts from its creation, with the startup grace",
		node: readyNode("n", "", t0), at: 0,
		wantGrace: 60 * time.Second, wantProbe: t0.Add(-time.Hour), wantQuiet: true,
	}, {
		name: "a new node with a Ready condition counts from now, even with a skewed clock",
		node: readyNode("n", corev1.ConditionTrue, skewed), at: 0,
		wantGrace: 50 * time.Second, wantProbe: t0,
	}, {
		name: "an unchanged heartbeat keeps the old probe time: silent after the grace period",
		prev: &health{probe: t0, heartbeat: &metav1.Time{Time: skewed}},
		node: readyNode("n", corev1.ConditionTrue, skewed), at: 51 * time.Second,
		wantGrace: 50 * time.Second, wantProbe: t0, wantQuiet: true,
	}, {
		name: "not silent at exactly the grace period",
		prev: &health{probe: t0, heartbeat: &metav1.Time{Time: skewed}},
		node: readyNode("n", corev1.ConditionTrue, skewed), at: 50 * time.Second,
		wantGrace: 50 * time.Second, wantProbe: t0,
	}, {
		name: "a moved status heartbeat is a sign of life",
		prev: &health{probe: t0, heartbeat: &metav1.Time{Time: skewed}},
		node: readyNode("n", corev1.ConditionTrue, skewed.Add(time.Second)), at: 55 * time.Second,
		wantGrace: 50 * time.Second, wantProbe: t0.Add(55 * time.Second),
	}, {
		name:  "a renewed lease is a sign of life while status stays old",
		prev:  &health{probe: t0, heartbeat: &metav1.Time{Time: skewed}, renew: &metav1.MicroTime{Time: skewed}},
		node:  readyNode("n", corev1.ConditionTrue, skewed),
		lease: lease(skewed.Add(10 * time.Second)), at: 55 * time.Second,
		wantGrace: 50 * time.Second, wantProbe: t0.Add(55 * time.Second),
	}, {
		name:  "an unrenewed lease is no sign of life",
		prev:  &health{probe: t0, heartbeat: &metav1.Time{Time: skewed}, renew: &metav1.MicroTime{Time: skewed}},
		node:  readyNode("n", corev1.ConditionTrue, skewed),
		lease: lease(skewed), at: 55 * time.Second,
		wantGrace: 50 * time.Second, wantProbe: t0, wantQuiet: true,
	}, {
		name:  "a node that never posted status but renews its lease is alive",
		prev:  &health{probe: t0.Add(-time.Hour)},
		node:  readyNode("n", "", t0),
		lease: lease(skewed), at: 0,
		wantGrace: 60 * time.Second, wantProbe: t0,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0.Add(tt.at)
			h, grace := observe(tt.prev, tt.node, tt.lease, now, periods)
			if grace != tt.wantGrace || !h.probe.Equal(tt.wantProbe) || h.silent(now, grace) != tt.wantQuiet {
				t.Errorf("observe = probe %s grace %s silent %v, want probe %s grace %s silent %v",
					h.probe, grace, h.silent(now, grace), tt.wantProbe, tt.wantGrace, tt.wantQuiet)
			}
		})
	}
}

func TestMarkUnknown(t *testing.T) {
	now := t0
	t.Run("a node that reported gets every kubelet condition Unknown", func(t *testing.T) {
		n := readyNode("n", corev1.ConditionTrue, t0.Add(-time.Minute))
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse})
		if !markUnknown(n, now) {
			t.Fatal("markUnknown reported no change")
		}
		ready := condition(n.Status.Conditions, corev1.NodeReady)
		if ready.Status != corev1.ConditionUnknown || ready.Reason != "NodeStatusUnknown" || ready.Message != "Kubelet stopped posting node status." || !ready.LastTransitionTime.Time.Equal(now) {
			t.Errorf("Ready = %+v", ready)
		}
		for _, ct := range unknownConditions {
			if c := condition(n.Status.Conditions, ct); c == nil || c.Status != corev1.ConditionUnknown {
				t.Errorf("%s = %+v, want Unknown", ct, c)
			}
		}
		if markUnknown(n, now) {
			t.Error("second markUnknown reported a change")
		}
	})
	t.Run("a node that never reported says so", func(t *testing.T) {
		n := readyNode("n", "", t0)
		markUnknown(n, now)
		ready := condition(n.Status.Conditions, corev1.NodeReady)
		if ready == nil || ready.Reason != "NodeStatusNeverUpdated" || ready.Message != "Kubelet never posted node status." {
			t.Errorf("Ready = %+v", ready)
		}
	})
}
