package replicaset

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestPodsToDeleteOrder(t *testing.T) {
	cost := func(c string) podOpt {
		return func(p *corev1.Pod) { p.Annotations = map[string]string{deletionCostAnnotation: c} }
	}
	pods := []*corev1.Pod{
		pod("old-ready", onNode("a"), readySince(48*time.Hour), created(50*time.Hour)),
		pod("expensive", onNode("b"), readySince(time.Minute), cost("100")),
		pod("cheap", onNode("b"), readySince(48*time.Hour), cost("-5")),
		pod("new-ready", onNode("c"), readySince(time.Minute)),
		pod("restarty", onNode("d"), readySince(48*time.Hour), restarts(7)),
		pod("unknown", onNode("e"), phase(corev1.PodUnknown)),
		pod("not-ready", onNode("e")),
		pod("pending", onNode("e"), phase(corev1.PodPending)),
		pod("unscheduled", phase(corev1.PodPending)),
		pod("crowded", onNode("z"), readySince(48*time.Hour)),
	}
	// Two sibling pods share node z with "crowded".
	related := append([]*corev1.Pod{pod("sib1", onNode("z")), pod("sib2", onNode("z"))}, pods...)
	got := podsToDelete(pods, related, len(pods)-1, now)
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	want := "unscheduled,pending,unknown,not-ready,cheap,crowded,new-ready,restarty,old-ready"
	if strings.Join(names, ",") != want {
		t.Errorf("deletion order\n got %s\nwant %s", strings.Join(names, ","), want)
	}
}

func TestIsAvailable(t *testing.T) {
	p := pod("p", readySince(10*time.Second))
	if !isAvailable(p, 0, now) || !isAvailable(p, 5, now) || isAvailable(p, 30, now) {
		t.Error("a pod ready for 10s: available with minReadySeconds 0 and 5, not with 30")
	}
	if isAvailable(pod("q"), 0, now) {
		t.Error("a pod that is not ready is not available")
	}
}
