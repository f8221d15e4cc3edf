package validation

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// statefulSet mirrors upstream's ValidateStatefulSetSpec, with one
// difference: upstream skips the pod template's spec ("we know volumes will
// fail": volumeMounts may name volumeClaimTemplates, which are not pod
// volumes). kubelab validates the template, counting claim templates as
// volumes, so a StatefulSet without an image is refused at once instead of
// failing later when the controller creates pods.
func statefulSet(ss *appsv1.StatefulSet) field.ErrorList {
	errs := objectMeta(&ss.ObjectMeta, kindStatefulSet)
	s := &ss.Spec
	switch s.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(specPath.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(specPath.Child("podManagementPolicy"), s.PodManagementPolicy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}

	up := specPath.Child("updateStrategy")
	switch s.UpdateStrategy.Type {
	case "":
		errs = append(errs, field.Required(up, ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if s.UpdateStrategy.RollingUpdate != nil {
			errs = append(errs, field.Invalid(up.Child("rollingUpdate"), s.UpdateStrategy.RollingUpdate,
				"only allowed for updateStrategy 'RollingUpdate'"))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := s.UpdateStrategy.RollingUpdate; ru != nil {
			rp := up.Child("rollingUpdate")
			errs = append(errs, nonNegative(ptr.Deref(ru.Partition, 0), rp.Child("partition"))...)
			if ru.MaxUnavailable != nil {
				errs = append(errs, intOrPercent(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
				if intOrPercentValue(ru.MaxUnavailable) == 0 {
					errs = append(errs, field.Invalid(rp.Child("maxUnavailable"), *ru.MaxUnavailable, "cannot be 0"))
				}
				errs = append(errs, notMoreThan100Percent(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
			}
		}
	default:
		errs = append(errs, field.Invalid(up, s.UpdateStrategy, "must be 'RollingUpdate' or 'OnDelete'"))
	}

	if policy := s.PersistentVolumeClaimRetentionPolicy; policy != nil {
		pp := specPath.Child("persistentVolumeClaimRetentionPolicy")
		for _, f := range []struct {
			name  string
			value appsv1.PersistentVolumeClaimRetentionPolicyType
		}{{"whenDeleted", policy.WhenDeleted}, {"whenScaled", policy.WhenScaled}} {
			if f.value != appsv1.RetainPersistentVolumeClaimRetentionPolicyType && f.value != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
				errs = append(errs, field.NotSupported(pp.Child(f.name), f.value, []string{
					string(appsv1.RetainPersistentVolumeClaimRetentionPolicyType), string(appsv1.DeletePersistentVolumeClaimRetentionPolicyType)}))
			}
		}
	}

	errs = append(errs, nonNegative(ptr.Deref(s.Replicas, 0), specPath.Child("replicas"))...)
	errs = append(errs, nonNegative(s.MinReadySeconds, specPath.Child("minReadySeconds"))...)
	if s.Ordinals != nil {
		errs = append(errs, nonNegative(s.Ordinals.Start, specPath.Child("ordinals.start"))...)
	}
	errs = append(errs, workloadSelector(s.Selector, "statefulset", &s.Template, specPath)...)

	claims := make([]string, 0, len(s.VolumeClaimTemplates))
	for i, pvc := range s.VolumeClaimTemplates {
		// The claim template's name becomes a pod volume name.
		cp := specPath.Child("volumeClaimTemplates").Index(i)
		if pvc.Name == "" {
			errs = append(errs, field.Required(cp.Child("metadata", "name"), ""))
		} else {
			errs = append(errs, dns1123Label(pvc.Name, cp.Child("metadata", "name"))...)
		}
		claims = append(claims, pvc.Name)
	}
	errs = append(errs, podTemplateSpec(&s.Template, specPath.Child("template"), claims)...)
	return append(errs, alwaysRestart(&s.Template.Spec, specPath.Child("template", "spec"), "StatefulSet")...)
}
