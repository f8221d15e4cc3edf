package tables

import (
	"fmt"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// defaultCPUUtilization is the target an HPA without metrics gets on write
// (autoscaling/v2 defaulting), so its TARGETS column reads "cpu: .../80%".
const defaultCPUUtilization = 80

func hpaColumns() []metav1.TableColumnDefinition {
	doc := autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		column("Reference", "string", doc["scaleTargetRef"]),
		column("Targets", "string", doc["metrics"]),
		column("MinPods", "string", doc["minReplicas"]),
		column("MaxPods", "string", doc["maxReplicas"]),
		column("Replicas", "string", autoscalingv2.HorizontalPodAutoscalerStatus{}.SwaggerDoc()["currentReplicas"]),
		ageColumn(),
	}
}

var hpaV2Printer = typed[autoscalingv2.HorizontalPodAutoscaler]{
	columns: hpaColumns(),
	cells:   hpaCells,
}

// hpaV1Printer prints the older autoscaling/v1 shape by translating its
// single CPU target into the v2 metric list, as the real server's
// conversion does.
var hpaV1Printer = typed[autoscalingv1.HorizontalPodAutoscaler]{
	columns: hpaColumns(),
	cells: func(h *autoscalingv1.HorizontalPodAutoscaler) []interface{} {
		v2 := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: h.ObjectMeta}
		v2.Spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference(h.Spec.ScaleTargetRef)
		v2.Spec.MinReplicas, v2.Spec.MaxReplicas = h.Spec.MinReplicas, h.Spec.MaxReplicas
		v2.Status.CurrentReplicas = h.Status.CurrentReplicas
		if h.Spec.TargetCPUUtilizationPercentage != nil {
			v2.Spec.Metrics = []autoscalingv2.MetricSpec{cpuUtilizationMetric(*h.Spec.TargetCPUUtilizationPercentage)}
		}
		if h.Status.CurrentCPUUtilizationPercentage != nil {
			v2.Status.CurrentMetrics = []autoscalingv2.MetricStatus{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricStatus{
					Name:    corev1.ResourceCPU,
					Current: autoscalingv2.MetricValueStatus{AverageUtilization: h.Status.CurrentCPUUtilizationPercentage},
				},
			}}
		}
		return hpaCells(v2)
	},
}

func cpuUtilizationMetric(percent int32) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{
		Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{
			Name:   corev1.ResourceCPU,
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &percent},
		},
	}
}

func hpaCells(h *autoscalingv2.HorizontalPodAutoscaler) []interface{} {
	minPods := "<unset>"
	if h.Spec.MinReplicas != nil {
		minPods = fmt.Sprint(*h.Spec.MinReplicas)
	}
	metrics := h.Spec.Metrics
	if len(metrics) == 0 {
		metrics = []autoscalingv2.MetricSpec{cpuUtilizationMetric(defaultCPUUtilization)}
	}
	return []interface{}{
		h.Name,
		h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name,
		hpaTargets(metrics, h.Status.CurrentMetrics),
		minPods,
		int64(h.Spec.MaxReplicas),
		int64(h.Status.CurrentReplicas),
		since(h.CreationTimestamp),
	}
}

// hpaTargets renders "current/target" per metric, e.g. "cpu: 12%/80%",
// "<unknown>" for a current value the controller has not measured yet, and
// at most two metrics before "+ N more...".
func hpaTargets(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	const limit = 2
	list := make([]string, 0, len(specs))
	for i, spec := range specs {
		var status *autoscalingv2.MetricStatus
		if i < len(statuses) {
			status = &statuses[i]
		}
		list = append(list, hpaTarget(spec, status))
	}
	if len(list) > limit {
		return fmt.Sprintf("%s + %d more...", strings.Join(list[:limit], ", "), len(list)-limit)
	}
	return strings.Join(list, ", ")
}

func hpaTarget(spec autoscalingv2.MetricSpec, status *autoscalingv2.MetricStatus) string {
	current := "<unknown>"
	switch spec.Type {
	case autoscalingv2.ExternalMetricSourceType:
		if spec.External == nil {
			break
		}
		if spec.External.Target.AverageValue != nil {
			if status != nil && status.External != nil && status.External.Current.AverageValue != nil {
				current = status.External.Current.AverageValue.String()
			}
			return fmt.Sprintf("%s/%s (avg)", current, spec.External.Target.AverageValue.String())
		}
		if status != nil && status.External != nil {
			current = status.External.Current.Value.String()
		}
		return fmt.Sprintf("%s/%s", current, spec.External.Target.Value.String())
	case autoscalingv2.PodsMetricSourceType:
		if spec.Pods == nil {
			break
		}
		if status != nil && status.Pods != nil {
			current = status.Pods.Current.AverageValue.String()
		}
		return fmt.Sprintf("%s/%s", current, spec.Pods.Target.AverageValue.String())
	case autoscalingv2.ObjectMetricSourceType:
		if spec.Object == nil {
			break
		}
		if spec.Object.Target.AverageValue != nil {
			if status != nil && status.Object != nil && status.Object.Current.AverageValue != nil {
				current = status.Object.Current.AverageValue.String()
			}
			return fmt.Sprintf("%s/%s (avg)", current, spec.Object.Target.AverageValue.String())
		}
		if status != nil && status.Object != nil {
			current = status.Object.Current.Value.String()
		}
		return fmt.Sprintf("%s/%s", current, spec.Object.Target.Value.String())
	case autoscalingv2.ResourceMetricSourceType:
		if spec.Resource == nil {
			break
		}
		var cur *autoscalingv2.MetricValueStatus
		if status != nil && status.Resource != nil {
			cur = &status.Resource.Current
		}
		return resourceTarget(string(spec.Resource.Name), spec.Resource.Target, cur)
	case autoscalingv2.ContainerResourceMetricSourceType:
		if spec.ContainerResource == nil {
			break
		}
		var cur *autoscalingv2.MetricValueStatus
		if status != nil && status.ContainerResource != nil {
			cur = &status.ContainerResource.Current
		}
		return resourceTarget(string(spec.ContainerResource.Name), spec.ContainerResource.Target, cur)
	}
	// An unknown type, or a type whose source is missing.
	return "<unknown type>"
}

// resourceTarget is "cpu: 250m/500m" for an average value target or
// "cpu: 12%/80%" for a utilization target.
func resourceTarget(name string, target autoscalingv2.MetricTarget, cur *autoscalingv2.MetricValueStatus) string {
	current := "<unknown>"
	if target.AverageValue != nil {
		if cur != nil {
			current = cur.AverageValue.String()
		}
		return fmt.Sprintf("%s: %s/%s", name, current, target.AverageValue.String())
	}
	if cur != nil && cur.AverageUtilization != nil {
		current = fmt.Sprintf("%d%%", *cur.AverageUtilization)
	}
	want := "<auto>"
	if target.AverageUtilization != nil {
		want = fmt.Sprintf("%d%%", *target.AverageUtilization)
	}
	return fmt.Sprintf("%s: %s/%s", name, current, want)
}

var pdbPrinter = typed[policyv1.PodDisruptionBudget]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Min Available", "string", "The minimum number of pods that must be available."),
		column("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
		column("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
		ageColumn(),
	},
	cells: func(p *policyv1.PodDisruptionBudget) []interface{} {
		minAvailable, maxUnavailable := "N/A", "N/A"
		if p.Spec.MinAvailable != nil {
			minAvailable = p.Spec.MinAvailable.String()
		}
		if p.Spec.MaxUnavailable != nil {
			maxUnavailable = p.Spec.MaxUnavailable.String()
		}
		return []interface{}{p.Name, minAvailable, maxUnavailable, int64(p.Status.DisruptionsAllowed), since(p.CreationTimestamp)}
	},
}
