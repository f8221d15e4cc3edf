package nodelifecycle

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	testingclock "k8s.io/utils/clock/testing"
)

func taintStrings(ts []corev1.Taint) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.ToString())
	}
	slices.Sort(out)
	return out
}

func TestNoScheduleDiff(t *testing.T) {
	cond := func(ct corev1.NodeConditionType, s corev1.ConditionStatus) corev1.NodeCondition {
		return corev1.NodeCondition{Type: ct, Status: s}
	}
	tests := []struct {
		name          string
		conditions    []corev1.NodeCondition
		unschedulable bool
		taints        []corev1.Taint
		wantAdd       []string
		wantRemove    []string
	}{{
		name:       "a healthy node needs nothing",
		conditions: []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue), cond(corev1.NodeMemoryPressure, corev1.ConditionFalse)},
	}, {
		name:       "Ready=False is not-ready",
		conditions: []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionFalse)},
		wantAdd:    []string{"node.kubernetes.io/not-ready:NoSchedule"},
	}, {
		name:       "Ready=Unknown swaps not-ready for unreachable",
		conditions: []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionUnknown)},
		taints:     []corev1.Taint{{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}},
		wantAdd:    []string{"node.kubernetes.io/unreachable:NoSchedule"},
		wantRemove: []string{"node.kubernetes.io/not-ready:NoSchedule"},
	}, {
		name: "pressure conditions and a cordon",
		conditions: []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue), cond(corev1.NodeMemoryPressure, corev1.ConditionTrue),
			cond(corev1.NodeDiskPressure, corev1.ConditionTrue), cond(corev1.NodePIDPressure, corev1.ConditionTrue), cond(corev1.NodeNetworkUnavailable, corev1.ConditionTrue)},
		unschedulable: true,
		wantAdd: []string{"node.kubernetes.io/disk-pressure:NoSchedule", "node.kubernetes.io/memory-pressure:NoSchedule",
			"node.kubernetes.io/network-unavailable:NoSchedule", "node.kubernetes.io/pid-pressure:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule"},
	}, {
		name:       "recovery removes ours and leaves other taints alone",
		conditions: []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue)},
		taints: []corev1.Taint{{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
			{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule},
			{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule},
			UnreachableNoExecute}, // NoExecute is the eviction path's business
		wantRemove: []string{"node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := readyNode("n", "", t0)
			n.Status.Conditions, n.Spec.Unschedulable, n.Spec.Taints = tt.conditions, tt.unschedulable, tt.taints
			add, remove := noScheduleDiff(n)
			if got := taintStrings(add); !slices.Equal(got, tt.wantAdd) {
				t.Errorf("add = %v, want %v", got, tt.wantAdd)
			}
			if got := taintStrings(remove); !slices.Equal(got, tt.wantRemove) {
				t.Errorf("remove = %v, want %v", got, tt.wantRemove)
			}
		})
	}
}

func TestWithTaintsStampsNoExecute(t *testing.T) {
	out := withTaints([]corev1.Taint{NotReadyNoExecute, {Key: "x", Effect: corev1.TaintEffectNoSchedule}},
		[]corev1.Taint{UnreachableNoExecute, {Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}},
		[]corev1.Taint{NotReadyNoExecute}, t0)
	if got, want := taintStrings(out), []string{"node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule", "x:NoSchedule"}; !slices.Equal(got, want) {
		t.Fatalf("taints = %v, want %v", got, want)
	}
	for _, tn := range out {
		if stamped := tn.TimeAdded != nil && tn.TimeAdded.Time.Equal(t0); stamped != (tn.Effect == corev1.TaintEffectNoExecute) {
			t.Errorf("%s timeAdded = %v", tn.ToString(), tn.TimeAdded)
		}
	}
}

func TestComputeZoneState(t *testing.T) {
	T, F, U := corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown
	tests := []struct {
		statuses []corev1.ConditionStatus
		want     zoneState
	}{
		{[]corev1.ConditionStatus{T, T, U}, stateNormal},
		{[]corev1.ConditionStatus{U}, stateFullDisruption},
		{[]corev1.ConditionStatus{U, F}, stateFullDisruption},
		{[]corev1.ConditionStatus{T, U, U}, stateNormal},                  // two not ready are never "partial"
		{[]corev1.ConditionStatus{T, T, U, U, U}, statePartialDisruption}, // 3/5 >= 0.55
		{[]corev1.ConditionStatus{T, T, T, U, U, U}, stateNormal},         // 3/6 < 0.55
	}
	for _, tt := range tests {
		if got := computeZoneState(tt.statuses, 0.55); got != tt.want {
			t.Errorf("computeZoneState(%v) = %s, want %s", tt.statuses, got, tt.want)
		}
	}
	e := Eviction{}.withDefaults()
	if e.rateFor(statePartialDisruption, 10) != 0 || e.rateFor(statePartialDisruption, 51) != 0.01 || e.rateFor(stateFullDisruption, 3) != 0.1 {
		t.Error("rateFor does not follow upstream's ReducedQPSFunc / HealthyQPSFunc")
	}
}

// TestTainterRate: the first node goes at once, the next after 1/rate.
func TestTainterRate(t *testing.T) {
	clk := testingclock.NewFakeClock(t0)
	tn := newTainter(clk, 0.1)
	tn.add("a")
	tn.add("b")
	if tn.add("a") {
		t.Error("a queued twice")
	}
	if name, ok := tn.next(); !ok || name != "a" {
		t.Fatalf("next = %q %v, want a at once", name, ok)
	}
	tn.done("a")
	if tn.add("a") {
		t.Error("a tainted node was queued again while unhealthy")
	}
	clk.Step(9 * time.Second)
	if name, ok := tn.next(); ok {
		t.Fatalf("next = %q after 9s, want nothing before 10s", name)
	}
	clk.Step(time.Second)
	if name, ok := tn.next(); !ok || name != "b" {
		t.Fatalf("next = %q %v after 10s, want b", name, ok)
	}
	tn.setRate(0)
	clk.Step(time.Hour)
	if _, ok := tn.next(); ok {
		t.Error("a stopped tainter let a node through")
	}
	tn.forget("a")
	if !tn.add("a") {
		t.Error("a forgotten node could not be queued again")
	}
}
