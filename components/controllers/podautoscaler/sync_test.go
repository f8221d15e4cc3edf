package podautoscaler

import (
	"errors"
	"slices"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestSync(t *testing.T) {
	tests := []struct {
		name     string
		hpa      *autoscalingv2.HorizontalPodAutoscaler
		replicas int32
		pods     int
		metrics  *fakeMetrics
		// before runs before the sync (say, to seed history).
		before func(h *harness)

		wantErr      bool
		wantUpdates  []int32 // /scale writes
		wantDesired  int32
		wantConds    map[autoscalingv2.HorizontalPodAutoscalerConditionType]string
		wantMessage  string // ScalingActive message, if set
		wantEvents   []string
		wantCurrent  *int32 // currentMetrics[0] utilization
		wantNoMetric bool   // currentMetrics[0] is empty (kubectl: <unknown>)
	}{{
		name: "no metrics API: ScalingActive False with upstream's wording",
		hpa:  newHPA(1, 10, 50), replicas: 2, pods: 2,
		metrics: &fakeMetrics{err: errors.New("the server could not find the requested resource (get pods.metrics.k8s.io)")},
		wantErr: true,
		wantConds: map[autoscalingv2.HorizontalPodAutoscalerConditionType]string{
			autoscalingv2.AbleToScale: "True/SucceededGetScale", autoscalingv2.ScalingActive: "False/FailedGetResourceMetric"},
		wantMessage: "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: " +
			"the server could not find the requested resource (get pods.metrics.k8s.io)",
		wantEvents: []string{
			"Warning FailedGetResourceMetric failed to get cpu utilization: unable to get metrics for resource cpu: the server could not find the requested resource (get pods.metrics.k8s.io)",
			"Warning FailedComputeMetricsReplicas invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: failed to get cpu utilization: unable to get metrics for resource cpu: the server could not find the requested resource (get pods.metrics.k8s.io)",
		},
		wantNoMetric: true,
	}, {
		name: "twice the target doubles the replicas",
		hpa:  newHPA(1, 10, 50), replicas: 2, pods: 2,
		metrics:     &fakeMetrics{usage: usage(2, 100)}, // 100% of request
		wantUpdates: []int32{4}, wantDesired: 4,
		wantConds: map[autoscalingv2.HorizontalPodAutoscalerConditionType]string{
			autoscalingv2.AbleToScale: "True/SucceededRescale", autoscalingv2.ScalingActive: "True/ValidMetricFound",
			autoscalingv2.ScalingLimited: "False/DesiredWithinRange"},
		wantEvents:  []string{"Normal SuccessfulRescale New size: 4; reason: cpu resource utilization (percentage of request) above target"},
		wantCurrent: ptr.To[int32](100),
	}, {
		name: "within the 10% tolerance nothing changes",
		hpa:  newHPA(1, 10, 50), replicas: 2, pods: 2,
		metrics:     &fakeMetrics{usage: usage(2, 54)},
		wantDesired: 2,
		wantConds: map[autoscalingv2.HorizontalPodAutoscalerConditionType]string{
			autoscalingv2.AbleToScale: "True/ReadyForNewScale", autoscalingv2.ScalingActive: "True/ValidMetricFound"},
		wantCurrent: ptr.To[int32](54),
	}, {
		name: "maxReplicas caps the scale-up",
		hpa:  newHPA(1, 3, 50), replicas: 2, pods: 2,
		metrics:     &fakeMetrics{usage: usage(2, 200)},
		wantUpdates: []int32{3}, wantDesired: 3,
		wantConds: map[autoscalingv2.HorizontalPodAutoscalerConditionType]string{
			autoscalingv2.ScalingLimited: "True/TooManyReplicas"},
	}, {
		name: "without behavior a scale-up at most doubles (or reaches 4)",
		hpa:  newHPA(1, 100, 10), replicas: 3, pods: 3,
		metrics:     &fakeMetrics{usage: usage(3, 100)}, // 10x the target
		wantUpdates: []int32{6}, wantDesired: 6,
		wantConds: map[autoscalingv2.HorizontalPodAutoscalerConditionType]string{
			autoscalingv2.ScalingLimited: "True/ScaleUpLimit"},
	}, {
		name: "a scale-down waits for the stabilization window",
		hpa:  newHPA(1, 10, 50), replicas: 4, pods: 4,
		metrics:     &fakeMetrics{usage: usage(4, 10)},
		wantDesired: 4,
		wantConds: map[autoscalingv2.HorizontalPodAutoscalerConditionType]string{
			autoscalingv2.AbleToScale: "True/ScaleDownStabilized"},
	}, {
		name: "after the window the scale-down happens, bounded by minReplicas",
		hpa:  newHPA(2, 10, 50), replicas: 4, pods: 4,
		metrics: &fakeMetrics{usage: usage(4, 10)},
		before: func(h *harness) {
			h.c.history.recordInitial("ns/web", 4, now.Add(-6*time.Minute))
		},
		wantUpdates: []int32{2}, wantDesired: 2,
		wantConds: map[autoscalingv2.HorizontalPodAutoscalerConditionType]string{
			autoscalingv2.ScalingLimited: "True/TooFewReplicas"},
		wantEvents: []string{"Normal SuccessfulRescale New size: 2; reason: All metrics below target"},
	}, {
		name: "a missing pod metric is assumed at 100% on a scale-down",
		hpa:  newHPA(1, 10, 50), replicas: 4, pods: 4,
		// Three pods idle, one unmeasured: at 100% it keeps the total at
		// (0+0+0+100)/400 = 25% → 2 pods, not the 1 the measured pods say.
		metrics: &fakeMetrics{usage: usage(3, 0)},
		before: func(h *harness) {
			h.c.history.recordInitial("ns/web", 4, now.Add(-6*time.Minute))
		},
		wantUpdates: []int32{2}, wantDesired: 2,
	}, {
		name: "behavior policies limit the rate: one pod per minute",
		hpa: func() *autoscalingv2.HorizontalPodAutoscaler {
			h := newHPA(1, 10, 50)
			h.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{
				StabilizationWindowSeconds: ptr.To[int32](0),
				Policies:                   []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60}},
			}}
			return h
		}(),
		replicas: 2, pods: 2,
		metrics:     &fakeMetrics{usage: usage(2, 200)},
		wantUpdates: []int32{3}, wantDesired: 3,
		wantConds: map[autoscalingv2.HorizontalPodAutoscalerConditionType]string{
			autoscalingv2.ScalingLimited: "True/ScaleUpLimit"},
	}, {
		name: "Pods metrics are reported unsupported, not faked",
		hpa: func() *autoscalingv2.HorizontalPodAutoscaler {
			h := newHPA(1, 10, 50)
			h.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: "requests_per_second"}}}}
			return h
		}(),
		replicas: 2, pods: 2, metrics: &fakeMetrics{}, wantErr: true,
		wantConds: map[autoscalingv2.HorizontalPodAutoscalerConditionType]string{
			autoscalingv2.ScalingActive: "False/FailedGetPodsMetric"},
	}, {
		name: "a target scaled to zero disables autoscaling",
		hpa:  newHPA(1, 10, 50), replicas: 0, pods: 0, metrics: &fakeMetrics{},
		wantConds: map[autoscalingv2.HorizontalPodAutoscalerConditionType]string{
			autoscalingv2.ScalingActive: "False/ScalingDisabled"},
	}, {
		name: "below minReplicas the target is raised without metrics",
		hpa:  newHPA(3, 10, 50), replicas: 1, pods: 1, metrics: &fakeMetrics{err: errors.New("down")},
		wantUpdates: []int32{3}, wantDesired: 3,
		wantEvents: []string{"Normal SuccessfulRescale New size: 3; reason: Current number of replicas below Spec.MinReplicas"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.hpa, tt.replicas, runningPods(tt.pods), tt.metrics)
			if tt.before != nil {
				tt.before(h)
			}
			err := h.sync(t)
			if (err != nil) != tt.wantErr {
				t.Fatalf("sync error = %v, want error %v", err, tt.wantErr)
			}
			if !slices.Equal(h.scales.updates, tt.wantUpdates) {
				t.Errorf("scale updates = %v, want %v", h.scales.updates, tt.wantUpdates)
			}
			hpa := h.hpa(t)
			if tt.wantDesired != 0 && hpa.Status.DesiredReplicas != tt.wantDesired {
				t.Errorf("desiredReplicas = %d, want %d", hpa.Status.DesiredReplicas, tt.wantDesired)
			}
			for typ, want := range tt.wantConds {
				if got := condition(hpa, typ); got != want {
					t.Errorf("condition %s = %q, want %q", typ, got, want)
				}
			}
			if tt.wantMessage != "" {
				for _, c := range hpa.Status.Conditions {
					if c.Type == autoscalingv2.ScalingActive && c.Message != tt.wantMessage {
						t.Errorf("ScalingActive message:\n got %q\nwant %q", c.Message, tt.wantMessage)
					}
				}
			}
			events := h.events()
			for _, e := range tt.wantEvents {
				if !slices.Contains(events, e) {
					t.Errorf("missing event %q in %q", e, events)
				}
			}
			if tt.wantCurrent != nil {
				if len(hpa.Status.CurrentMetrics) != 1 || hpa.Status.CurrentMetrics[0].Resource == nil ||
					ptr.Deref(hpa.Status.CurrentMetrics[0].Resource.Current.AverageUtilization, -1) != *tt.wantCurrent {
					t.Errorf("currentMetrics = %+v, want cpu at %d%%", hpa.Status.CurrentMetrics, *tt.wantCurrent)
				}
			}
			if tt.wantNoMetric && (len(hpa.Status.CurrentMetrics) != 1 || hpa.Status.CurrentMetrics[0].Resource != nil) {
				t.Errorf("currentMetrics = %+v, want one empty entry", hpa.Status.CurrentMetrics)
			}
		})
	}
}

func TestResourceReplicas(t *testing.T) {
	tests := []struct {
		name    string
		current int32
		pods    []*corev1.Pod
		usage   map[string]int64
		target  int32
		want    int32
		wantPct int32
	}{
		{name: "scale up by the usage ratio", current: 3, pods: runningPods(3), usage: usage(3, 90), target: 30, want: 9, wantPct: 90},
		{name: "scale down by the usage ratio", current: 4, pods: runningPods(4), usage: usage(4, 25), target: 50, want: 2, wantPct: 25},
		{name: "inside the tolerance keeps current", current: 4, pods: runningPods(4), usage: usage(4, 46), target: 50, want: 4, wantPct: 46},
		{name: "a pending pod counts as using nothing on a scale-up", current: 3,
			pods: func() []*corev1.Pod {
				p := runningPods(3)
				p[2].Status.Phase = corev1.PodPending
				return p
			}(),
			// two pods at 100% of 50% → ratio 2; with the pending one at 0:
			// (100+100+0)/300 = 66% → ratio 1.33 → ceil(1.33·3) = 4.
			usage: usage(2, 100), target: 50, want: 4, wantPct: 100},
		{name: "a missing metric on a scale-up counts as zero", current: 2, pods: runningPods(2),
			usage: usage(1, 100), target: 50, want: 2, wantPct: 100}, // (100+0)/200 = 50%: no change
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, newHPA(1, 10, tt.target), tt.current, tt.pods, &fakeMetrics{usage: tt.usage})
			u, _, err := h.c.calc.resourceReplicas(t.Context(), tt.current, tt.target, corev1.ResourceCPU, tolerance{0.1, 0.1}, "ns", mustSelector(t))
			if err != nil {
				t.Fatal(err)
			}
			if u.replicas != tt.want || u.percent != tt.wantPct {
				t.Errorf("replicas %d at %d%%, want %d at %d%%", u.replicas, u.percent, tt.want, tt.wantPct)
			}
		})
	}
}
