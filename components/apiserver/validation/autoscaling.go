package validation

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// horizontalPodAutoscaler mirrors upstream's ValidateHorizontalPodAutoscaler
// (pkg/apis/autoscaling/validation) for autoscaling/v2.
func horizontalPodAutoscaler(h *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	errs := objectMeta(&h.ObjectMeta, kindHPA)
	s := &h.Spec
	if s.MinReplicas != nil && *s.MinReplicas < 1 {
		errs = append(errs, field.Invalid(specPath.Child("minReplicas"), *s.MinReplicas, "must be greater than or equal to 1"))
	}
	if s.MaxReplicas < 1 {
		errs = append(errs, field.Invalid(specPath.Child("maxReplicas"), s.MaxReplicas, "must be greater than 0"))
	}
	if s.MinReplicas != nil && s.MaxReplicas < *s.MinReplicas {
		errs = append(errs, field.Invalid(specPath.Child("maxReplicas"), s.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	ref := specPath.Child("scaleTargetRef")
	for _, f := range []struct{ name, value string }{{"kind", s.ScaleTargetRef.Kind}, {"name", s.ScaleTargetRef.Name}} {
		if f.value == "" {
			errs = append(errs, field.Required(ref.Child(f.name), ""))
		} else {
			errs = append(errs, messages(f.value, ref.Child(f.name), path.IsValidPathSegmentName(f.value))...)
		}
	}
	for i := range s.Metrics {
		errs = append(errs, metricSpec(&s.Metrics[i], specPath.Child("metrics").Index(i))...)
	}
	return errs
}

// metricSpec: the type names which one of the sources is filled in.
func metricSpec(m *autoscalingv2.MetricSpec, p *field.Path) field.ErrorList {
	sources := []struct {
		kind autoscalingv2.MetricSourceType
		name string
		set  bool
	}{
		{autoscalingv2.ObjectMetricSourceType, "object", m.Object != nil},
		{autoscalingv2.PodsMetricSourceType, "pods", m.Pods != nil},
		{autoscalingv2.ResourceMetricSourceType, "resource", m.Resource != nil},
		{autoscalingv2.ContainerResourceMetricSourceType, "containerResource", m.ContainerResource != nil},
		{autoscalingv2.ExternalMetricSourceType, "external", m.External != nil},
	}
	var errs field.ErrorList
	kinds := make([]string, 0, len(sources))
	count, typed := 0, false
	for _, src := range sources {
		kinds = append(kinds, string(src.kind))
		if src.set {
			count++
		}
		if src.kind == m.Type {
			typed = true
			if !src.set {
				errs = append(errs, field.Required(p.Child(src.name), "must populate information for the given metric source"))
			}
		}
	}
	switch {
	case m.Type == "":
		return append(errs, field.Required(p.Child("type"), "must specify a metric source type"))
	case !typed:
		return append(errs, field.NotSupported(p.Child("type"), m.Type, kinds))
	case count > 1:
		errs = append(errs, field.Forbidden(p, "must populate the given metric source only"))
	}
	if r := m.Resource; m.Type == autoscalingv2.ResourceMetricSourceType && r != nil {
		rp := p.Child("resource")
		if r.Name == "" {
			errs = append(errs, field.Required(rp.Child("name"), "must specify a resource name"))
		}
		errs = append(errs, metricTarget(r.Target, rp.Child("target"))...)
	}
	return errs
}

func metricTarget(t autoscalingv2.MetricTarget, p *field.Path) field.ErrorList {
	switch t.Type {
	case autoscalingv2.UtilizationMetricType:
		if t.AverageUtilization == nil {
			return field.ErrorList{field.Required(p.Child("averageUtilization"), "must set either a target raw value or a target utilization")}
		}
		return greaterThanZero(*t.AverageUtilization, p.Child("averageUtilization"))
	case autoscalingv2.ValueMetricType:
		if t.Value == nil {
			return field.ErrorList{field.Required(p.Child("value"), "must set either a target value for metric or a per-pod target")}
		}
	case autoscalingv2.AverageValueMetricType:
		if t.AverageValue == nil {
			return field.ErrorList{field.Required(p.Child("averageValue"), "must set either a target value for metric or a per-pod target")}
		}
	default:
		return oneOf(string(t.Type), p.Child("type"), string(autoscalingv2.UtilizationMetricType),
			string(autoscalingv2.ValueMetricType), string(autoscalingv2.AverageValueMetricType))
	}
	return nil
}

// podDisruptionBudget mirrors upstream's ValidatePodDisruptionBudget: a
// floor (minAvailable) or a ceiling (maxUnavailable) on voluntary
// disruptions such as `kubectl drain`, never both.
func podDisruptionBudget(pdb *policyv1.PodDisruptionBudget) field.ErrorList {
	errs := objectMeta(&pdb.ObjectMeta, schema.GroupKind{Group: "policy", Kind: "PodDisruptionBudget"})
	s := &pdb.Spec
	if s.MinAvailable != nil && s.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(specPath, *s, "minAvailable and maxUnavailable cannot be both set"))
	}
	for _, f := range []struct {
		value *intstr.IntOrString
		p     *field.Path
	}{{s.MinAvailable, specPath.Child("minAvailable")}, {s.MaxUnavailable, specPath.Child("maxUnavailable")}} {
		errs = append(errs, intOrPercent(f.value, f.p)...)
		errs = append(errs, notMoreThan100Percent(f.value, f.p)...)
	}
	errs = append(errs, metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, specPath.Child("selector"))...)
	if pol := s.UnhealthyPodEvictionPolicy; pol != nil {
		errs = append(errs, oneOf(string(*pol), specPath.Child("unhealthyPodEvictionPolicy"),
			string(policyv1.AlwaysAllow), string(policyv1.IfHealthyBudget))...)
	}
	return errs
}
