package nodelifecycle

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"
)

// Eviction settings, upstream's flags of the same names.
type Eviction struct {
	// Rate: nodes per second that may get a NoExecute taint in a healthy
	// zone (--node-eviction-rate, 0.1: one node every 10s).
	Rate float32
	// SecondaryRate: the same in a partially disrupted zone of a large
	// cluster (--secondary-node-eviction-rate, 0.01).
	SecondaryRate float32
	// UnhealthyZoneThreshold: the share of not-ready nodes (at least 3)
	// that makes a zone partially disrupted (--unhealthy-zone-threshold, 0.55).
	UnhealthyZoneThreshold float32
	// LargeClusterSize: above this many nodes a partially disrupted zone
	// keeps evicting at SecondaryRate; at or below it stops
	// (--large-cluster-size-threshold, 50).
	LargeClusterSize int
}

func (e Eviction) withDefaults() Eviction {
	if e.Rate == 0 {
		e.Rate = 0.1
	}
	if e.SecondaryRate == 0 {
		e.SecondaryRate = 0.01
	}
	if e.UnhealthyZoneThreshold == 0 {
		e.UnhealthyZoneThreshold = 0.55
	}
	if e.LargeClusterSize == 0 {
		e.LargeClusterSize = 50
	}
	return e
}

// zoneState is upstream's ZoneState.
type zoneState string

const (
	stateInitial           zoneState = "Initial"
	stateNormal            zoneState = "Normal"
	stateFullDisruption    zoneState = "FullDisruption"
	statePartialDisruption zoneState = "PartialDisruption"
)

// zoneKey names a node's failure domain: region and zone labels (empty
// for clusters without them, which are then one zone).
func zoneKey(node *corev1.Node) string {
	region, zone := node.Labels[corev1.LabelTopologyRegion], node.Labels[corev1.LabelTopologyZone]
	if region == "" && zone == "" {
		return ""
	}
	return region + ":\x00:" + zone
}

// excludedFromDisruption: nodes labelled node.kubernetes.io/exclude-disruption
// do not count when judging a zone's health.
func excludedFromDisruption(node *corev1.Node) bool {
	_, excluded := node.Labels["node.kubernetes.io/exclude-disruption"]
	return excluded
}

// computeZoneState judges a zone by its nodes' Ready statuses: no ready
// node at all is a full disruption (more likely our network than every
// kubelet at once); more than two not-ready nodes making up at least the
// threshold is a partial one.
func computeZoneState(statuses []corev1.ConditionStatus, threshold float32) zoneState {
	ready, notReady := 0, 0
	for _, s := range statuses {
		if s == corev1.ConditionTrue {
			ready++
		} else {
			notReady++
		}
	}
	switch {
	case ready == 0 && notReady > 0:
		return stateFullDisruption
	case notReady > 2 && float32(notReady)/float32(notReady+ready) >= threshold:
		return statePartialDisruption
	}
	return stateNormal
}

// rateFor is the NoExecute tainting rate of a zone in a state: normal and
// fully disrupted zones taint at the normal rate (a whole dead zone is
// evicted, unless every zone is dead: see monitor), a partially
// disrupted zone slows down in a large cluster and stops in a small one.
func (e Eviction) rateFor(state zoneState, zoneSize int) float32 {
	if state == statePartialDisruption {
		if zoneSize > e.LargeClusterSize {
			return e.SecondaryRate
		}
		return 0
	}
	return e.Rate
}

// tainter is one zone's queue of nodes waiting for their NoExecute taint,
// drained no faster than a token bucket allows (upstream's
// RateLimitedTimedQueue). The first node goes at once (burst 1).
type tainter struct {
	clock   clock.PassiveClock
	limiter flowcontrol.PassiveRateLimiter // nil: stopped (rate 0)
	rate    float32
	order   []string
	queued  map[string]bool
}

func newTainter(c clock.PassiveClock, rate float32) *tainter {
	t := &tainter{clock: c, queued: map[string]bool{}, rate: -1}
	t.setRate(rate)
	return t
}

// setRate swaps the token bucket when the rate changes.
func (t *tainter) setRate(rate float32) {
	if rate == t.rate {
		return
	}
	t.rate = rate
	if rate <= 0 {
		t.limiter = nil
		return
	}
	t.limiter = flowcontrol.NewTokenBucketPassiveRateLimiterWithClock(rate, 1, t.clock)
}

// add queues a node for its taint. It reports false if the node is
// queued already, or was tainted and has not been ready since: one token
// per unhealthy spell, like upstream.
func (t *tainter) add(name string) bool {
	if t.queued[name] {
		return false
	}
	t.queued[name] = true
	t.order = append(t.order, name)
	return true
}

// next returns the node whose turn it is, if the bucket has a token.
// The caller then calls done (tainted, or needs no taint), or retryLater.
func (t *tainter) next() (string, bool) {
	if len(t.order) == 0 || t.limiter == nil || !t.limiter.TryAccept() {
		return "", false
	}
	return t.order[0], true
}

// done takes a node off the queue but remembers it, so the next pass
// does not queue it again while it stays unhealthy.
func (t *tainter) done(name string) {
	for i, n := range t.order {
		if n == name {
			t.order = append(t.order[:i], t.order[i+1:]...)
			return
		}
	}
}

// retryLater moves a node to the back of the queue after a failed write.
func (t *tainter) retryLater(name string) {
	t.done(name)
	t.order = append(t.order, name)
}

// forget drops a node entirely (it is ready again, or deleted).
func (t *tainter) forget(name string) {
	t.done(name)
	delete(t.queued, name)
}
