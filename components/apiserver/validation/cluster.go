package validation

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// namespace mirrors upstream's ValidateNamespace. spec.finalizers are
// "kubernetes" (the namespace controller's) or domain-qualified names.
func namespace(ns *corev1.Namespace) field.ErrorList {
	errs := objectMeta(&ns.ObjectMeta, kindNamespace)
	fp := specPath.Child("finalizers")
	for _, f := range ns.Spec.Finalizers {
		name := string(f)
		errs = append(errs, apimachineryvalidation.ValidateFinalizerName(name, fp)...)
		if !strings.Contains(name, "/") && f != corev1.FinalizerKubernetes {
			errs = append(errs, field.Invalid(fp, name, "name is neither a standard finalizer name nor is it fully qualified"))
		}
	}
	return errs
}

// node mirrors upstream's ValidateNode: the spec a kubelet registers and the
// node IPAM controller completes.
func node(n *corev1.Node) field.ErrorList {
	errs := objectMeta(&n.ObjectMeta, schema.GroupKind{Kind: "Node"})
	errs = append(errs, taints(n.Spec.Taints, specPath.Child("taints"))...)
	cidrs := specPath.Child("podCIDRs")
	for i, c := range n.Spec.PodCIDRs {
		errs = append(errs, utilvalidation.IsValidCIDR(cidrs.Index(i), c)...)
	}
	if len(n.Spec.PodCIDRs) > 1 {
		if dual, err := netutils.IsDualStackCIDRStrings(n.Spec.PodCIDRs); err == nil && (!dual || len(n.Spec.PodCIDRs) > 2) {
			errs = append(errs, field.Invalid(cidrs, n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
		}
	}
	if n.Spec.PodCIDR != "" && (len(n.Spec.PodCIDRs) == 0 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR) {
		errs = append(errs, field.Invalid(specPath.Child("podCIDR"), n.Spec.PodCIDR, "must be equal to `podCIDRs[0]`"))
	}
	return errs
}

// taints mirrors upstream's validateNodeTaints (which reports them under
// metadata.taints by an old mistake; kubelab uses the real path).
func taints(list []corev1.Taint, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[corev1.TaintEffect]map[string]bool{}
	for i, t := range list {
		idx := p.Index(i)
		errs = append(errs, metav1validation.ValidateLabelName(t.Key, idx.Child("key"))...)
		if msgs := utilvalidation.IsValidLabelValue(t.Value); len(msgs) > 0 {
			errs = append(errs, field.Invalid(idx.Child("value"), t.Value, strings.Join(msgs, ";")))
		}
		errs = append(errs, taintEffect(t.Effect, idx.Child("effect"))...)
		if seen[t.Effect][t.Key] {
			dup := field.Duplicate(idx, t)
			dup.Detail = "taints must be unique by key and effect pair"
			errs = append(errs, dup)
			continue
		}
		if seen[t.Effect] == nil {
			seen[t.Effect] = map[string]bool{}
		}
		seen[t.Effect][t.Key] = true
	}
	return errs
}

// nodeUpdate: the node IPAM controller may assign a pod CIDR once; after
// that, pods already have addresses from it and routes point at it.
func nodeUpdate(newNode, oldNode *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	if oldCIDRs := oldNode.Spec.PodCIDRs; len(oldCIDRs) > 0 {
		changed := len(oldCIDRs) != len(newNode.Spec.PodCIDRs)
		for i := 0; !changed && i < len(oldCIDRs); i++ {
			changed = oldCIDRs[i] != newNode.Spec.PodCIDRs[i]
		}
		if changed {
			errs = append(errs, field.Forbidden(specPath.Child("podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
		}
	}
	if oldNode.Spec.ProviderID != "" && oldNode.Spec.ProviderID != newNode.Spec.ProviderID {
		errs = append(errs, field.Forbidden(specPath.Child("providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	return errs
}
