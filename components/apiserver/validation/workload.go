package validation

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// A workload controller owns the pods its selector matches, and creates
// pods from its template. If the template's labels did not match the
// selector, the controller would never see the pods it made and would make
// more forever; so that is the rule every workload checks first.

func deployment(d *appsv1.Deployment) field.ErrorList {
	errs := objectMeta(&d.ObjectMeta, schema.GroupKind{Group: "apps", Kind: "Deployment"})
	s := &d.Spec
	errs = append(errs, nonNegative(ptr.Deref(s.Replicas, 0), specPath.Child("replicas"))...)
	errs = append(errs, workloadSelector(s.Selector, "deployment", &s.Template, specPath)...)
	errs = append(errs, replicaTemplate(&s.Template, specPath.Child("template"), "ReplicaSet")...)
	errs = append(errs, deploymentStrategy(&s.Strategy, specPath.Child("strategy"))...)
	errs = append(errs, nonNegative(s.MinReadySeconds, specPath.Child("minReadySeconds"))...)
	if s.RevisionHistoryLimit != nil {
		errs = append(errs, nonNegative(*s.RevisionHistoryLimit, specPath.Child("revisionHistoryLimit"))...)
	}
	if s.ProgressDeadlineSeconds != nil {
		errs = append(errs, nonNegative(*s.ProgressDeadlineSeconds, specPath.Child("progressDeadlineSeconds"))...)
		if *s.ProgressDeadlineSeconds <= s.MinReadySeconds {
			errs = append(errs, field.Invalid(specPath.Child("progressDeadlineSeconds"), *s.ProgressDeadlineSeconds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

// deploymentStrategy: Recreate stops all old pods before starting new ones;
// RollingUpdate overlaps them, within maxSurge extra and maxUnavailable
// missing pods. With both at 0 a rollout could never take a step.
func deploymentStrategy(s *appsv1.DeploymentStrategy, p *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(p.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
		return nil
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(p.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		rp := p.Child("rollingUpdate")
		errs := intOrPercent(s.RollingUpdate.MaxUnavailable, rp.Child("maxUnavailable"))
		errs = append(errs, intOrPercent(s.RollingUpdate.MaxSurge, rp.Child("maxSurge"))...)
		if intOrPercentValue(s.RollingUpdate.MaxUnavailable) == 0 && intOrPercentValue(s.RollingUpdate.MaxSurge) == 0 {
			errs = append(errs, field.Invalid(rp.Child("maxUnavailable"), intOrPercentShown(s.RollingUpdate.MaxUnavailable), "may not be 0 when `maxSurge` is 0"))
		}
		return append(errs, notMoreThan100Percent(s.RollingUpdate.MaxUnavailable, rp.Child("maxUnavailable"))...)
	}
	return field.ErrorList{field.NotSupported(p.Child("type"), s.Type,
		[]appsv1.DeploymentStrategyType{appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType})}
}

func replicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	errs := objectMeta(&rs.ObjectMeta, schema.GroupKind{Group: "apps", Kind: "ReplicaSet"})
	s := &rs.Spec
	errs = append(errs, nonNegative(ptr.Deref(s.Replicas, 0), specPath.Child("replicas"))...)
	errs = append(errs, nonNegative(s.MinReadySeconds, specPath.Child("minReadySeconds"))...)
	// Upstream's ReplicaSet message says "deployment" too.
	errs = append(errs, workloadSelector(s.Selector, "deployment", &s.Template, specPath)...)
	return append(errs, replicaTemplate(&s.Template, specPath.Child("template"), "ReplicaSet")...)
}

func replicationController(rc *corev1.ReplicationController) field.ErrorList {
	errs := objectMeta(&rc.ObjectMeta, schema.GroupKind{Kind: "ReplicationController"})
	s := &rc.Spec
	errs = append(errs, nonNegative(ptr.Deref(s.Replicas, 0), specPath.Child("replicas"))...)
	errs = append(errs, nonNegative(s.MinReadySeconds, specPath.Child("minReadySeconds"))...)
	if len(s.Selector) == 0 {
		errs = append(errs, field.Required(specPath.Child("selector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabels(s.Selector, specPath.Child("selector"))...)
	}
	if s.Template == nil {
		return append(errs, field.Required(specPath.Child("template"), ""))
	}
	if len(s.Selector) > 0 && !labels.SelectorFromSet(s.Selector).Matches(labels.Set(s.Template.Labels)) {
		errs = append(errs, field.Invalid(specPath.Child("template", "metadata", "labels"), s.Template.Labels, "`selector` does not match template `labels`"))
	}
	return append(errs, replicaTemplate(s.Template, specPath.Child("template"), "ReplicationController")...)
}

func daemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	errs := objectMeta(&ds.ObjectMeta, schema.GroupKind{Group: "apps", Kind: "DaemonSet"})
	s := &ds.Spec
	errs = append(errs, workloadSelector(s.Selector, "daemonset", &s.Template, specPath)...)
	errs = append(errs, replicaTemplate(&s.Template, specPath.Child("template"), "DaemonSet")...)
	errs = append(errs, nonNegative(s.MinReadySeconds, specPath.Child("minReadySeconds"))...)
	if s.RevisionHistoryLimit != nil {
		errs = append(errs, nonNegative(*s.RevisionHistoryLimit, specPath.Child("revisionHistoryLimit"))...)
	}
	up := specPath.Child("updateStrategy")
	switch s.UpdateStrategy.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
	case appsv1.RollingUpdateDaemonSetStrategyType:
		ru := s.UpdateStrategy.RollingUpdate
		if ru == nil {
			return append(errs, field.Required(up.Child("rollingUpdate"), ""))
		}
		rp := up.Child("rollingUpdate")
		errs = append(errs, intOrPercent(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
		errs = append(errs, intOrPercent(ru.MaxSurge, rp.Child("maxSurge"))...)
		errs = append(errs, notMoreThan100Percent(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
		errs = append(errs, notMoreThan100Percent(ru.MaxSurge, rp.Child("maxSurge"))...)
		// One pod per node: surging means starting the new pod next to the
		// old one, so exactly one of the two knobs may be non-zero.
		unavailable, surge := intOrPercentValue(ru.MaxUnavailable) != 0, intOrPercentValue(ru.MaxSurge) != 0
		switch {
		case unavailable && surge:
			errs = append(errs, field.Invalid(rp.Child("maxSurge"), intOrPercentShown(ru.MaxSurge), "may not be set when maxUnavailable is non-zero"))
		case !unavailable && !surge:
			errs = append(errs, field.Required(rp.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
	default:
		errs = append(errs, field.NotSupported(up, s.UpdateStrategy,
			[]string{string(appsv1.RollingUpdateDaemonSetStrategyType), string(appsv1.OnDeleteDaemonSetStrategyType)}))
	}
	return errs
}

// workloadSelector: required, valid, not empty (an empty selector would
// match every pod in the namespace), and matching the template's labels.
func workloadSelector(sel *metav1.LabelSelector, kind string, t *corev1.PodTemplateSpec, p *field.Path) field.ErrorList {
	sp := p.Child("selector")
	if sel == nil {
		// Upstream reports the mismatch too: no selector matches nothing.
		return field.ErrorList{field.Required(sp, ""),
			field.Invalid(p.Child("template", "metadata", "labels"), t.Labels, "`selector` does not match template `labels`")}
	}
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, sp)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(sp, sel, "empty selector is invalid for "+kind))
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return append(errs, field.Invalid(sp, sel, "invalid label selector"))
	}
	if !selector.Empty() && !selector.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

// replicaTemplate validates the pod template of a controller that keeps
// pods running forever: restartPolicy must be Always (a pod that completes
// would just be replaced) and there is no deadline.
func replicaTemplate(t *corev1.PodTemplateSpec, p *field.Path, kind string) field.ErrorList {
	errs := podTemplateSpec(t, p, nil)
	errs = append(errs, alwaysRestart(&t.Spec, p.Child("spec"), kind)...)
	return errs
}

func alwaysRestart(spec *corev1.PodSpec, p *field.Path, kind string) field.ErrorList {
	var errs field.ErrorList
	if spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(p.Child("restartPolicy"), spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(p.Child("activeDeadlineSeconds"), "activeDeadlineSeconds in "+kind+" is not Supported"))
	}
	return errs
}

// selectorUpdate: apps/v1 selectors are immutable. Changing one would
// orphan every existing pod and ReplicaSet of the workload.
func selectorUpdate(newSel, oldSel *metav1.LabelSelector) field.ErrorList {
	return apimachineryvalidation.ValidateImmutableField(newSel, oldSel, specPath.Child("selector"))
}

// statefulSetUpdate mirrors upstream: only replicas, ordinals, template,
// updateStrategy, persistentVolumeClaimRetentionPolicy and minReadySeconds
// may change. The rest (serviceName, volumeClaimTemplates, selector,
// podManagementPolicy) shapes identities that already exist.
func statefulSetUpdate(newSS, oldSS *appsv1.StatefulSet) field.ErrorList {
	clone := newSS.Spec.DeepCopy()
	clone.Replicas = oldSS.Spec.Replicas
	clone.Ordinals = oldSS.Spec.Ordinals
	clone.Template = oldSS.Spec.Template
	clone.UpdateStrategy = oldSS.Spec.UpdateStrategy
	clone.PersistentVolumeClaimRetentionPolicy = oldSS.Spec.PersistentVolumeClaimRetentionPolicy
	clone.MinReadySeconds = oldSS.Spec.MinReadySeconds
	clone.RevisionHistoryLimit = oldSS.Spec.RevisionHistoryLimit
	if !equality.Semantic.DeepEqual(*clone, oldSS.Spec) {
		return field.ErrorList{field.Forbidden(specPath, "updates to statefulset spec for fields other than 'replicas', 'ordinals', "+
			"'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")}
	}
	return nil
}
