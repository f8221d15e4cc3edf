package podautoscaler

import (
	"math"
	"sync"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// The metrics say "N replicas"; normalization decides how far to go now.
// Two brakes, both from upstream:
//
//   - stabilization: remember recent recommendations and, for a scale-down,
//     use the highest one of the window (5 minutes by default), so a brief
//     dip does not remove pods that the next spike needs again;
//   - rate limits: with spec.behavior, policies cap how many pods (or what
//     percentage) may come or go per period; without it, a scale-up may at
//     most double (or reach 4), and min/maxReplicas always bound the result.

type recommendation struct {
	replicas int32
	at       time.Time
}

type scaleEvent struct {
	change int32 // pods added (scale-up list) or removed (scale-down list)
	at     time.Time
}

// history is the per-HPA memory normalization needs. It lives in the
// controller process: after a restart the windows start empty, as upstream.
type history struct {
	mu              sync.Mutex
	recommendations map[string][]recommendation
	scaleUps        map[string][]scaleEvent
	scaleDowns      map[string][]scaleEvent
}

func newHistory() *history {
	return &history{recommendations: map[string][]recommendation{}, scaleUps: map[string][]scaleEvent{}, scaleDowns: map[string][]scaleEvent{}}
}

func (h *history) forget(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.recommendations, key)
	delete(h.scaleUps, key)
	delete(h.scaleDowns, key)
}

// recordInitial seeds the window with the current size, so a fresh HPA does
// not scale down at once.
func (h *history) recordInitial(key string, current int32, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.recommendations[key] == nil {
		h.recommendations[key] = []recommendation{{current, now}}
	}
}

// record stores a recommendation, reusing the slot of one that is older
// than every window.
func (h *history) record(key string, r recommendation, oldest int) {
	if oldest >= 0 {
		h.recommendations[key][oldest] = r
		return
	}
	h.recommendations[key] = append(h.recommendations[key], r)
}

// stabilize (no behavior): the highest recommendation within the
// downscale window wins.
func (h *history) stabilize(key string, desired int32, window time.Duration, now time.Time) int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	highest, oldest := desired, -1
	for i, r := range h.recommendations[key] {
		if r.at.Before(now.Add(-window)) {
			oldest = i
		} else if r.replicas > highest {
			highest = r.replicas
		}
	}
	h.record(key, recommendation{desired, now}, oldest)
	return highest
}

// stabilizeWithBehavior: scale up no further than the lowest
// recommendation of the scale-up window, down no further than the highest
// of the scale-down window.
func (h *history) stabilizeWithBehavior(key string, current, desired int32, up, down *autoscalingv2.HPAScalingRules, now time.Time) (int32, string, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	upCut := now.Add(-time.Duration(ptr.Deref(up.StabilizationWindowSeconds, 0)) * time.Second)
	downCut := now.Add(-time.Duration(ptr.Deref(down.StabilizationWindowSeconds, 0)) * time.Second)
	upRec, downRec, oldest := desired, desired, -1
	for i, r := range h.recommendations[key] {
		if r.at.After(upCut) {
			upRec = min(upRec, r.replicas)
		}
		if r.at.After(downCut) {
			downRec = max(downRec, r.replicas)
		}
		if r.at.Before(upCut) && r.at.Before(downCut) {
			oldest = i
		}
	}
	rec := min(max(current, upRec), downRec)
	h.record(key, recommendation{desired, now}, oldest)
	if desired >= current {
		return rec, "ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation"
	}
	return rec, "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"
}

// recordScale remembers a scale for the rate-limit policies, dropping
// events older than the longest policy period.
func (h *history) recordScale(key string, b *autoscalingv2.HorizontalPodAutoscalerBehavior, from, to int32, now time.Time) {
	if b == nil || from == to {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	keep := func(events []scaleEvent, rules *autoscalingv2.HPAScalingRules) []scaleEvent {
		longest := int32(0)
		if rules != nil {
			for _, p := range rules.Policies {
				longest = max(longest, p.PeriodSeconds)
			}
		}
		var out []scaleEvent
		for _, e := range events {
			if e.at.After(now.Add(-time.Duration(longest) * time.Second)) {
				out = append(out, e)
			}
		}
		return out
	}
	if to > from {
		h.scaleUps[key] = append(keep(h.scaleUps[key], b.ScaleUp), scaleEvent{to - from, now})
	} else {
		h.scaleDowns[key] = append(keep(h.scaleDowns[key], b.ScaleDown), scaleEvent{from - to, now})
	}
}

// changedWithin sums the changes of events within the last period seconds.
func changedWithin(events []scaleEvent, period int32, now time.Time) int32 {
	sum := int32(0)
	for _, e := range events {
		if e.at.After(now.Add(-time.Duration(period) * time.Second)) {
			sum += e.change
		}
	}
	return sum
}

// limitWithBehavior applies the scale-up or scale-down policies and the
// min/max bounds. It returns the allowed replicas and the ScalingLimited
// reason and message.
func (h *history) limitWithBehavior(key string, current, desired, minR, maxR int32, up, down *autoscalingv2.HPAScalingRules, now time.Time) (int32, string, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ups, downs := h.scaleUps[key], h.scaleDowns[key]
	switch {
	case desired > current:
		limit := max(scaleLimit(current, ups, downs, up, now, true), current)
		if maxR > limit {
			if desired > limit {
				return limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
			}
		} else if desired > maxR {
			return maxR, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
		}
	case desired < current:
		limit := min(scaleLimit(current, ups, downs, down, now, false), current)
		if minR < limit {
			if desired < limit {
				return limit, "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"
			}
		} else if desired < minR {
			return minR, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
		}
	}
	return desired, "DesiredWithinRange", "the desired count is within the acceptable range"
}

// scaleLimit: the furthest the policies allow from the size at the start
// of each policy's period. selectPolicy Max takes the policy allowing the
// biggest change, Min the smallest, Disabled none at all.
func scaleLimit(current int32, ups, downs []scaleEvent, rules *autoscalingv2.HPAScalingRules, now time.Time, scaleUp bool) int32 {
	sel := ptr.Deref(rules.SelectPolicy, autoscalingv2.MaxChangePolicySelect)
	if sel == autoscalingv2.DisabledPolicySelect {
		return current
	}
	// For a scale-up the biggest change is the highest limit; for a
	// scale-down it is the lowest.
	biggest := sel == autoscalingv2.MaxChangePolicySelect
	pickHigh := biggest == scaleUp
	result := int32(math.MinInt32)
	if !pickHigh {
		result = math.MaxInt32
	}
	for _, p := range rules.Policies {
		start := current - changedWithin(ups, p.PeriodSeconds, now) + changedWithin(downs, p.PeriodSeconds, now)
		var proposed int32
		switch {
		case scaleUp && p.Type == autoscalingv2.PodsScalingPolicy:
			proposed = start + p.Value
		case scaleUp:
			proposed = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		case p.Type == autoscalingv2.PodsScalingPolicy:
			proposed = start - p.Value
		default:
			proposed = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		if pickHigh {
			result = max(result, proposed)
		} else {
			result = min(result, proposed)
		}
	}
	return result
}

// limitWithoutBehavior: min/max bounds, and a scale-up at most to
// max(2×current, 4).
func limitWithoutBehavior(current, desired, minR, maxR int32) (int32, string, string) {
	upLimit := max(2*current, 4)
	maxAllowed, reason, msg := maxR, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
	if maxR > upLimit {
		maxAllowed, reason, msg = upLimit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
	}
	switch {
	case desired < minR:
		return minR, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
	case desired > maxAllowed:
		return maxAllowed, reason, msg
	}
	return desired, "DesiredWithinRange", "the desired count is within the acceptable range"
}

// normalize turns the metrics' proposal into the replicas to set, and sets
// the AbleToScale and ScalingLimited conditions that explain it.
func (c *Controller) normalize(hpa *autoscalingv2.HorizontalPodAutoscaler, key string, current, desired, minR int32) int32 {
	now := c.now()
	if hpa.Spec.Behavior == nil {
		stable := c.history.stabilize(key, desired, c.downscaleWindow, now)
		if stable != desired {
			setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation", now)
		} else {
			setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "ReadyForNewScale", "recommended size matches current size", now)
		}
		out, reason, msg := limitWithoutBehavior(current, stable, minR, hpa.Spec.MaxReplicas)
		setCondition(hpa, autoscalingv2.ScalingLimited, boolStatus(out != stable), reason, msg, now)
		return out
	}
	up, down := c.rules(hpa.Spec.Behavior)
	stable, reason, msg := c.history.stabilizeWithBehavior(key, current, desired, up, down, now)
	if stable != desired {
		setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, reason, msg, now)
	} else {
		setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "ReadyForNewScale", "recommended size matches current size", now)
	}
	out, reason, msg := c.history.limitWithBehavior(key, current, stable, minR, hpa.Spec.MaxReplicas, up, down, now)
	setCondition(hpa, autoscalingv2.ScalingLimited, boolStatus(out != stable), reason, msg, now)
	return out
}

// rules completes a behavior the API server did not default (it defaults
// both directions whenever behavior is set): upstream's built-in rules, and
// the scale-down window from --horizontal-pod-autoscaler-downscale-stabilization.
func (c *Controller) rules(b *autoscalingv2.HorizontalPodAutoscalerBehavior) (up, down *autoscalingv2.HPAScalingRules) {
	up, down = b.ScaleUp, b.ScaleDown
	if up == nil {
		up = &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](0), SelectPolicy: ptr.To(autoscalingv2.MaxChangePolicySelect),
			Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15}, {Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}}}
	}
	if down == nil {
		down = &autoscalingv2.HPAScalingRules{SelectPolicy: ptr.To(autoscalingv2.MaxChangePolicySelect),
			Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}}}
	}
	if down.StabilizationWindowSeconds == nil {
		d := *down
		d.StabilizationWindowSeconds = ptr.To(int32(c.downscaleWindow / time.Second))
		down = &d
	}
	return up, down
}

func boolStatus(b bool) corev1.ConditionStatus {
	if b {
		return corev1.ConditionTrue
	}
	return corev1.ConditionFalse
}
