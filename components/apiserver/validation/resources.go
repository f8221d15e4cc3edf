package validation

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// resources mirrors upstream's ValidateContainerResourceRequirements.
//
// The rule that matters most: a request is what the scheduler reserves, a
// limit is what the kernel enforces, so requests may not exceed limits. For
// resources that cannot be shared (hugepages, extended resources such as
// GPUs) the two must be equal.
func resources(r *corev1.ResourceRequirements, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	limPath, reqPath := p.Child("limits"), p.Child("requests")
	for _, name := range sortedNames(r.Limits) {
		q := r.Limits[name]
		errs = append(errs, containerResourceName(name, limPath.Key(string(name)))...)
		errs = append(errs, quantityValue(name, q, limPath.Key(string(name)))...)
	}
	for _, name := range sortedNames(r.Requests) {
		q := r.Requests[name]
		errs = append(errs, containerResourceName(name, reqPath.Key(string(name)))...)
		errs = append(errs, quantityValue(name, q, reqPath.Key(string(name)))...)
		limit, hasLimit := r.Limits[name]
		switch {
		case hasLimit && q.Cmp(limit) != 0 && !overcommitAllowed(name):
			errs = append(errs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be equal to %s limit of %s", name, limit.String())))
		case hasLimit && q.Cmp(limit) > 0:
			errs = append(errs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit.String())))
		case !hasLimit && !overcommitAllowed(name):
			errs = append(errs, field.Required(limPath, "Limit must be set for non overcommitable resources"))
		}
	}
	return errs
}

func sortedNames(list corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(list))
	for name := range list {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// containerResourceName: cpu, memory, ephemeral-storage and hugepages-<size>
// are the built-in container resources; anything else must be an extended
// resource with a domain, like nvidia.com/gpu.
func containerResourceName(name corev1.ResourceName, p *field.Path) field.ErrorList {
	if msgs := utilvalidation.IsQualifiedName(string(name)); len(msgs) > 0 {
		return messages(name, p, msgs)
	}
	if !strings.Contains(string(name), "/") {
		switch {
		case name == corev1.ResourceCPU, name == corev1.ResourceMemory, name == corev1.ResourceEphemeralStorage,
			strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix):
			return nil
		}
		return field.ErrorList{field.Invalid(p, name, "must be a standard resource for containers")}
	}
	if !nativeResource(name) && !extendedResource(name) {
		return field.ErrorList{field.Invalid(p, name, "doesn't follow extended resource name standard")}
	}
	return nil
}

// quantityValue: no negative amounts, and whole units of extended resources
// (half a GPU cannot be handed out).
func quantityValue(name corev1.ResourceName, q resource.Quantity, p *field.Path) field.ErrorList {
	if q.Cmp(resource.Quantity{}) < 0 {
		return field.ErrorList{field.Invalid(p, q.String(), apimachineryvalidation.IsNegativeErrorMsg)}
	}
	if extendedResource(name) && q.MilliValue()%1000 != 0 {
		return field.ErrorList{field.Invalid(p, q.String(), "must be an integer")}
	}
	return nil
}

// nativeResource: defined by Kubernetes itself (no domain, or a
// kubernetes.io domain).
func nativeResource(name corev1.ResourceName) bool {
	return !strings.Contains(string(name), "/") || strings.Contains(string(name), corev1.ResourceDefaultNamespacePrefix)
}

func extendedResource(name corev1.ResourceName) bool {
	if nativeResource(name) || strings.HasPrefix(string(name), corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(utilvalidation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+string(name))) == 0
}

// overcommitAllowed: can the node promise more than it has? Yes for CPU and
// memory (requests are a floor, not a reservation of hardware), no for
// hugepages and devices.
func overcommitAllowed(name corev1.ResourceName) bool {
	return nativeResource(name) && !strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}
