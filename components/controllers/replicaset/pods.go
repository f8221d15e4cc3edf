package replicaset

import (
	"math"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// deletionCostAnnotation lets users say which pods to remove first on scale
// down (lower cost goes first), like upstream's PodDeletionCost feature.
const deletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// isActive: the pod counts toward replicas (not finished, not being deleted).
func isActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

// isTerminating: being deleted but not finished (status.terminatingReplicas).
func isTerminating(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp != nil
}

func readyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func isReady(p *corev1.Pod) bool {
	c := readyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// isAvailable: ready, and ready for at least minReadySeconds.
func isAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	if !isReady(p) {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	c := readyCondition(p)
	return !c.LastTransitionTime.IsZero() && c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).Before(now)
}

// rankedPods sorts pods so the ones to delete first come first. The order
// is upstream's (ActivePodsWithRanks): a pod that costs least to lose goes.
type rankedPods struct {
	pods []*corev1.Pod
	rank []int // related pods on the same node: a doubled-up pod goes first
	now  time.Time
}

// phaseOrder: Pending < Unknown < Running.
var phaseOrder = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

func (s rankedPods) Len() int { return len(s.pods) }
func (s rankedPods) Swap(i, j int) {
	s.pods[i], s.pods[j] = s.pods[j], s.pods[i]
	s.rank[i], s.rank[j] = s.rank[j], s.rank[i]
}

func (s rankedPods) Less(i, j int) bool {
	a, b := s.pods[i], s.pods[j]
	// 1. Not yet scheduled < scheduled.
	if a.Spec.NodeName != b.Spec.NodeName && (a.Spec.NodeName == "" || b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	// 2. Pending < Unknown < Running.
	if phaseOrder[a.Status.Phase] != phaseOrder[b.Status.Phase] {
		return phaseOrder[a.Status.Phase] < phaseOrder[b.Status.Phase]
	}
	// 3. Not ready < ready.
	if isReady(a) != isReady(b) {
		return !isReady(a)
	}
	// 4. Lower deletion cost < higher.
	if ca, cb := deletionCost(a), deletionCost(b); ca != cb {
		return ca < cb
	}
	// 5. Doubled up on a node < alone.
	if s.rank[i] != s.rank[j] {
		return s.rank[i] > s.rank[j]
	}
	// 6. Ready for a shorter time < longer (in log2 buckets of age).
	if isReady(a) && isReady(b) {
		ta, tb := readyCondition(a).LastTransitionTime, readyCondition(b).LastTransitionTime
		if !ta.Equal(&tb) {
			return s.newer(a, b, ta, tb)
		}
	}
	// 7. More container restarts < fewer.
	if ra, rb := maxRestarts(a), maxRestarts(b); ra != rb {
		return ra > rb
	}
	// 8. Created later < earlier (in log2 buckets of age).
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return s.newer(a, b, a.CreationTimestamp, b.CreationTimestamp)
	}
	return false
}

// newer compares two times like upstream with LogarithmicScaleDown: times
// within the same power-of-two age bucket are equal, and pod UIDs break the
// tie (a random but stable choice, so scale-down does not always hit the
// very newest pod). A zero time sorts first.
func (s rankedPods) newer(a, b *corev1.Pod, ta, tb metav1.Time) bool {
	if ta.IsZero() || tb.IsZero() || s.now.IsZero() {
		if ta.IsZero() || tb.IsZero() {
			return ta.IsZero()
		}
		return ta.After(tb.Time)
	}
	diff := ageBucket(s.now.Sub(ta.Time)) - ageBucket(s.now.Sub(tb.Time))
	if diff == 0 {
		return a.UID < b.UID
	}
	return diff < 0
}

func ageBucket(d time.Duration) int64 {
	if d <= 0 {
		return -1
	}
	return int64(math.Log2(float64(d)))
}

func deletionCost(p *corev1.Pod) int32 {
	v, err := strconv.ParseInt(p.Annotations[deletionCostAnnotation], 10, 32)
	if err != nil {
		return 0 // absent or invalid: the default cost
	}
	return int32(v)
}

func maxRestarts(p *corev1.Pod) int32 {
	var n int32
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		n = max(n, cs.RestartCount)
	}
	return n
}

// podsToDelete picks n of pods to delete, ranked by rankedPods. related
// are the pods of sibling ReplicaSets (same Deployment): a pod sharing a
// node with many of them is the better one to lose.
func podsToDelete(pods, related []*corev1.Pod, n int, now time.Time) []*corev1.Pod {
	if n >= len(pods) {
		return pods
	}
	perNode := map[string]int{}
	for _, p := range related {
		if p.Spec.NodeName != "" && isActive(p) {
			perNode[p.Spec.NodeName]++
		}
	}
	s := rankedPods{pods: append([]*corev1.Pod(nil), pods...), rank: make([]int, len(pods)), now: now}
	for i, p := range s.pods {
		s.rank[i] = perNode[p.Spec.NodeName]
	}
	sort.Sort(s)
	return s.pods[:n]
}
