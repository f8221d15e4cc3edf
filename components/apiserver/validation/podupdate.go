package validation

import (
	"fmt"
	"math"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/diff"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// updatablePodSpecFields is upstream's list, quoted in the error message.
var updatablePodSpecFields = []string{
	"`spec.containers[*].image`",
	"`spec.initContainers[*].image`",
	"`spec.activeDeadlineSeconds`",
	"`spec.tolerations` (only additions to existing tolerations)",
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
}

// podUpdate mirrors upstream's ValidatePodUpdate. A pod is a running
// process tree on one node: almost nothing about it can change in place. To
// change a pod you replace it, which is what Deployments do for you. The few
// exceptions are things the kubelet can apply without a restart (a new
// image restarts just that container) or that only tighten the pod's life
// (a shorter deadline, more tolerations).
//
// The kubelet's status updates go through the status subresource, whose
// spec is the stored one, so they pass.
func podUpdate(newPod, oldPod *corev1.Pod) field.ErrorList {
	var errs field.ErrorList
	for _, list := range []struct {
		name     string
		new, old []corev1.Container
	}{
		{"containers", newPod.Spec.Containers, oldPod.Spec.Containers},
		{"initContainers", newPod.Spec.InitContainers, oldPod.Spec.InitContainers},
	} {
		if len(list.new) != len(list.old) {
			return append(errs, field.Forbidden(specPath.Child(list.name), "pod updates may not add or remove containers"))
		}
	}

	// activeDeadlineSeconds may be set, or lowered, never raised or removed.
	deadline := specPath.Child("activeDeadlineSeconds")
	switch n, o := newPod.Spec.ActiveDeadlineSeconds, oldPod.Spec.ActiveDeadlineSeconds; {
	case n != nil && (*n < 0 || *n > math.MaxInt32):
		return append(errs, field.Invalid(deadline, *n, utilvalidation.InclusiveRangeError(0, math.MaxInt32)))
	case n != nil && o != nil && *o < *n:
		return append(errs, field.Invalid(deadline, *n, "must be less than or equal to previous value"))
	case n == nil && o != nil:
		errs = append(errs, field.Invalid(deadline, n, "must not update from a positive integer to nil value"))
	}

	errs = append(errs, onlyAddedTolerations(newPod.Spec.Tolerations, oldPod.Spec.Tolerations, specPath.Child("tolerations"))...)
	errs = append(errs, onlyRemovedSchedulingGates(newPod.Spec.SchedulingGates, oldPod.Spec.SchedulingGates, specPath.Child("schedulingGates"))...)

	if equality.Semantic.DeepEqual(newPod.Spec, oldPod.Spec) {
		return errs
	}
	// Put the old values of the fields that may change into a copy of the
	// new spec; whatever still differs was not allowed to change.
	munged := newPod.Spec.DeepCopy()
	for i := range munged.Containers {
		munged.Containers[i].Image = oldPod.Spec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = oldPod.Spec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = oldPod.Spec.ActiveDeadlineSeconds
	munged.SchedulingGates = oldPod.Spec.SchedulingGates
	munged.Tolerations = oldPod.Spec.Tolerations
	if g := oldPod.Spec.TerminationGracePeriodSeconds; g != nil && *g < 0 &&
		munged.TerminationGracePeriodSeconds != nil && *munged.TerminationGracePeriodSeconds == 1 {
		munged.TerminationGracePeriodSeconds = g
	}
	// Binding: a pod not yet on a node may be given one, once. Upstream does
	// this through the pods/binding subresource, which skips this function;
	// kubelab's binding handler goes through the ordinary update path.
	if oldPod.Spec.NodeName == "" {
		munged.NodeName = ""
	}
	// A pod still waiting on scheduling gates may gain node selector terms.
	if len(oldPod.Spec.SchedulingGates) > 0 && onlyAddedKeys(munged.NodeSelector, oldPod.Spec.NodeSelector) {
		munged.NodeSelector = oldPod.Spec.NodeSelector
	}
	if !equality.Semantic.DeepEqual(*munged, oldPod.Spec) {
		errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("pod updates may not change fields other than %s\n%v",
			strings.Join(updatablePodSpecFields, ","), diff.Diff(oldPod.Spec, *munged))))
	}
	return errs
}

// onlyAddedTolerations: existing tolerations stay (only their
// tolerationSeconds may change), new ones may be added.
func onlyAddedTolerations(newList, oldList []corev1.Toleration, p *field.Path) field.ErrorList {
	for _, old := range oldList {
		found := false
		for _, n := range newList {
			o := old
			o.TolerationSeconds = n.TolerationSeconds
			if reflect.DeepEqual(o, n) {
				found = true
				break
			}
		}
		if !found {
			return field.ErrorList{field.Forbidden(p, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return nil
}

// onlyRemovedSchedulingGates: gates are lifted one by one, never added.
func onlyRemovedSchedulingGates(newGates, oldGates []corev1.PodSchedulingGate, p *field.Path) field.ErrorList {
	old := map[string]bool{}
	for _, g := range oldGates {
		old[g.Name] = true
	}
	var errs field.ErrorList
	for i, g := range newGates {
		if !old[g.Name] {
			errs = append(errs, field.Forbidden(p.Index(i).Child("name"),
				fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}
	return errs
}

func onlyAddedKeys(newMap, oldMap map[string]string) bool {
	for k, v := range oldMap {
		if nv, ok := newMap[k]; !ok || nv != v {
			return false
		}
	}
	return true
}
