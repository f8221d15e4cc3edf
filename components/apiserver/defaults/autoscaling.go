package defaults

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// defaultCPUUtilization is the target of an HPA that names no metric
// (upstream's autoscaling.DefaultCPUUtilization): keep average CPU at 80% of
// the pods' requests.
const defaultCPUUtilization int32 = 80

// horizontalPodAutoscaler mirrors SetDefaults_HorizontalPodAutoscaler
// (pkg/apis/autoscaling/v2/defaults.go).
func horizontalPodAutoscaler(h *autoscalingv2.HorizontalPodAutoscaler) {
	if h.Spec.MinReplicas == nil {
		h.Spec.MinReplicas = ptr.To[int32](1)
	}
	if len(h.Spec.Metrics) == 0 {
		h.Spec.Metrics = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{
					Type:               autoscalingv2.UtilizationMetricType,
					AverageUtilization: ptr.To(defaultCPUUtilization),
				},
			},
		}}
	}
	// A behavior section that is present is completed with the built-in
	// rules; an absent one stays absent (the controller uses the same rules).
	if b := h.Spec.Behavior; b != nil {
		b.ScaleUp = scalingRules(b.ScaleUp, scaleUpRules())
		b.ScaleDown = scalingRules(b.ScaleDown, scaleDownRules())
	}
}

// scaleUpRules: at most double, or add 4 pods, every 15 seconds, whichever
// is more, with no stabilization window.
func scaleUpRules() *autoscalingv2.HPAScalingRules {
	return &autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: ptr.To[int32](0),
		SelectPolicy:               ptr.To(autoscalingv2.MaxChangePolicySelect),
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	}
}

// scaleDownRules: any amount every 15 seconds; the stabilization window is
// left unset because it comes from the controller's flag
// (--horizontal-pod-autoscaler-downscale-stabilization, 5 minutes).
func scaleDownRules() *autoscalingv2.HPAScalingRules {
	return &autoscalingv2.HPAScalingRules{
		SelectPolicy: ptr.To(autoscalingv2.MaxChangePolicySelect),
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	}
}

// scalingRules keeps what the user set and takes the rest from def.
func scalingRules(user, def *autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	if user == nil {
		return def
	}
	if user.SelectPolicy != nil {
		def.SelectPolicy = user.SelectPolicy
	}
	if user.StabilizationWindowSeconds != nil {
		def.StabilizationWindowSeconds = user.StabilizationWindowSeconds
	}
	if user.Policies != nil {
		def.Policies = user.Policies
	}
	if user.Tolerance != nil {
		def.Tolerance = user.Tolerance
	}
	return def
}
