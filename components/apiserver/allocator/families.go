package allocator

import (
	"fmt"
	"net"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Dual-stack in one paragraph: a Service has up to two cluster IPs, one per
// family. spec.ipFamilyPolicy says how many it wants (SingleStack, or
// PreferDualStack / RequireDualStack for two), spec.ipFamilies says which
// families in which order, spec.clusterIPs holds the addresses in that
// order, and spec.clusterIP is always a copy of spec.clusterIPs[0] (it is the
// pre-dual-stack field, kept for old clients). The allocator may run before
// the registry's validation (as upstream's does), so it checks the shape of
// these fields itself before trusting them.

var (
	clusterIPsPath = field.NewPath("spec", "clusterIPs")
	familiesPath   = field.NewPath("spec", "ipFamilies")
	policyPath     = field.NewPath("spec", "ipFamilyPolicy")
)

// checkClusterIPFields syncs clusterIP with clusterIPs[0] and checks the
// shape of clusterIPs, ipFamilies and ipFamilyPolicy.
func checkClusterIPFields(svc *corev1.Service) field.ErrorList {
	spec := &svc.Spec
	var el field.ErrorList
	switch {
	case spec.ClusterIP != "" && len(spec.ClusterIPs) == 0:
		spec.ClusterIPs = []string{spec.ClusterIP}
	case spec.ClusterIP == "" && len(spec.ClusterIPs) > 0:
		spec.ClusterIP = spec.ClusterIPs[0]
	case len(spec.ClusterIPs) > 0 && spec.ClusterIP != spec.ClusterIPs[0]:
		el = append(el, field.Invalid(clusterIPsPath.Index(0), spec.ClusterIPs, "first value must match `clusterIP`"))
	}
	if len(spec.ClusterIPs) > 2 {
		el = append(el, field.TooMany(clusterIPsPath, len(spec.ClusterIPs), 2))
	}
	for i, s := range spec.ClusterIPs {
		switch {
		case s == corev1.ClusterIPNone && (i > 0 || len(spec.ClusterIPs) > 1):
			el = append(el, field.Invalid(clusterIPsPath.Index(i), spec.ClusterIPs, "'None' must be the first and only value"))
		case s == corev1.ClusterIPNone:
		case net.ParseIP(s) == nil:
			el = append(el, field.Invalid(clusterIPsPath.Index(i), s, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
		case i == 1 && spec.ClusterIPs[0] != corev1.ClusterIPNone && familyOf(s) == familyOf(spec.ClusterIPs[0]):
			el = append(el, field.Invalid(clusterIPsPath.Index(i), spec.ClusterIPs, "may specify no more than one IP for each IP family"))
		}
	}
	if len(spec.IPFamilies) > 2 {
		el = append(el, field.TooMany(familiesPath, len(spec.IPFamilies), 2))
	}
	for i, fam := range spec.IPFamilies {
		switch {
		case fam != corev1.IPv4Protocol && fam != corev1.IPv6Protocol:
			el = append(el, field.NotSupported(familiesPath.Index(i), fam, []string{string(corev1.IPv4Protocol), string(corev1.IPv6Protocol)}))
		case slices.Index(spec.IPFamilies, fam) < i:
			el = append(el, field.Duplicate(familiesPath.Index(i), fam))
		case i < len(spec.ClusterIPs) && spec.ClusterIPs[i] != corev1.ClusterIPNone &&
			net.ParseIP(spec.ClusterIPs[i]) != nil && familyOf(spec.ClusterIPs[i]) != fam:
			el = append(el, field.Invalid(clusterIPsPath.Index(i), spec.ClusterIPs,
				fmt.Sprintf("expected an %s value as indicated by `ipFamilies[%d]`", fam, i)))
		}
	}
	if p := spec.IPFamilyPolicy; p != nil && *p != corev1.IPFamilyPolicySingleStack &&
		*p != corev1.IPFamilyPolicyPreferDualStack && *p != corev1.IPFamilyPolicyRequireDualStack {
		el = append(el, field.NotSupported(policyPath, *p, []string{string(corev1.IPFamilyPolicySingleStack),
			string(corev1.IPFamilyPolicyPreferDualStack), string(corev1.IPFamilyPolicyRequireDualStack)}))
	}
	return el
}

// initIPFamilyFields fills in ipFamilyPolicy and ipFamilies from what the
// user gave, the old object (on update) and what the cluster has configured.
// It follows upstream's rules (alloc.go initIPFamilyFields); old is nil on
// create.
func (s *Services) initIPFamilyFields(svc, old *corev1.Service) error {
	if el := checkClusterIPFields(svc); len(el) > 0 {
		return invalid(svc, el)
	}
	// A PreferDualStack Service is not silently upgraded or downgraded when
	// the cluster gains or loses a family; only an explicit edit does that.
	if matchingPreferDualStack(svc, old) {
		return nil
	}
	spec := &svc.Spec
	headlessSelectorless := isHeadless(svc) && len(spec.Selector) == 0
	if spec.IPFamilyPolicy == nil {
		policy := corev1.IPFamilyPolicySingleStack
		switch {
		case old != nil && old.Spec.IPFamilyPolicy != nil:
			policy = *old.Spec.IPFamilyPolicy // PUT without the field keeps it
		case headlessSelectorless:
			policy = corev1.IPFamilyPolicyRequireDualStack // its endpoints may be of any family
		}
		spec.IPFamilyPolicy = &policy
	}
	policy := *spec.IPFamilyPolicy
	var el field.ErrorList
	if old != nil {
		if policy == corev1.IPFamilyPolicySingleStack {
			// Asking for SingleStack on an unchanged dual-stack Service means
			// "drop the secondary".
			if slices.Equal(old.Spec.ClusterIPs, spec.ClusterIPs) && len(spec.ClusterIPs) > 1 {
				spec.ClusterIPs = spec.ClusterIPs[:1]
			}
			if slices.Equal(old.Spec.IPFamilies, spec.IPFamilies) && len(spec.IPFamilies) > 1 {
				spec.IPFamilies = spec.IPFamilies[:1]
			}
		} else {
			if len(spec.ClusterIPs) > 0 && len(spec.ClusterIPs) < len(old.Spec.ClusterIPs) {
				el = append(el, field.Invalid(policyPath, policy, "must be 'SingleStack' to release the secondary cluster IP"))
			}
			if len(spec.IPFamilies) > 0 && len(spec.IPFamilies) < len(old.Spec.IPFamilies) {
				el = append(el, field.Invalid(policyPath, policy, "must be 'SingleStack' to release the secondary IP family"))
			}
		}
	}
	if policy == corev1.IPFamilyPolicySingleStack {
		if len(spec.ClusterIPs) == 2 {
			el = append(el, field.Invalid(policyPath, policy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"))
		}
		if len(spec.IPFamilies) == 2 {
			el = append(el, field.Invalid(policyPath, policy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"))
		}
	}
	// Requested IPs say their family: fill ipFamilies from them.
	for i, ip := range spec.ClusterIPs {
		if ip == corev1.ClusterIPNone {
			break
		}
		if i < len(spec.IPFamilies) {
			continue
		}
		if fam := familyOf(ip); s.IPs[fam] == nil {
			el = append(el, field.Invalid(clusterIPsPath.Index(i), spec.ClusterIPs, fmt.Sprintf("%s is not configured on this cluster", fam)))
		} else {
			spec.IPFamilies = append(spec.IPFamilies, fam)
		}
	}
	if len(el) > 0 {
		return invalid(svc, el)
	}
	if headlessSelectorless {
		// No IP to allocate, so any family is fine, even unconfigured ones.
		if len(spec.IPFamilies) == 0 {
			spec.IPFamilies = []corev1.IPFamily{s.defaultFamily()}
		}
		if len(spec.IPFamilies) < 2 && policy != corev1.IPFamilyPolicySingleStack {
			spec.IPFamilies = append(spec.IPFamilies, otherFamily(spec.IPFamilies[0]))
		}
		return nil
	}
	if policy == corev1.IPFamilyPolicyRequireDualStack && len(s.IPs) < 2 {
		el = append(el, field.Invalid(policyPath, policy, "this cluster is not configured for dual-stack services"))
	}
	for i, fam := range spec.IPFamilies {
		if s.IPs[fam] == nil {
			el = append(el, field.Invalid(familiesPath.Index(i), fam, "not configured on this cluster"))
		}
	}
	if len(el) > 0 {
		return invalid(svc, el)
	}
	if len(spec.IPFamilies) == 0 {
		spec.IPFamilies = []corev1.IPFamily{s.defaultFamily()}
		if s.IPs[spec.IPFamilies[0]] == nil {
			return invalid(svc, field.ErrorList{field.Invalid(familiesPath.Index(0), spec.IPFamilies[0], "not configured on this cluster")})
		}
	}
	if policy != corev1.IPFamilyPolicySingleStack && len(spec.IPFamilies) == 1 && len(s.IPs) == 2 {
		spec.IPFamilies = append(spec.IPFamilies, otherFamily(spec.IPFamilies[0]))
	}
	return nil
}

// matchingPreferDualStack: an update of a PreferDualStack Service that
// leaves type, policy, clusterIPs and ipFamilies as they were.
func matchingPreferDualStack(svc, old *corev1.Service) bool {
	prefer := func(s *corev1.Service) bool {
		return s.Spec.IPFamilyPolicy != nil && *s.Spec.IPFamilyPolicy == corev1.IPFamilyPolicyPreferDualStack
	}
	return old != nil && typeOf(old) == typeOf(svc) && needsClusterIP(svc) &&
		prefer(svc) && prefer(old) &&
		slices.Equal(old.Spec.ClusterIPs, svc.Spec.ClusterIPs) &&
		slices.Equal(old.Spec.IPFamilies, svc.Spec.IPFamilies)
}

func familyOf(ip string) corev1.IPFamily {
	if p := net.ParseIP(ip); p != nil && p.To4() == nil {
		return corev1.IPv6Protocol
	}
	return corev1.IPv4Protocol
}

func otherFamily(f corev1.IPFamily) corev1.IPFamily {
	if f == corev1.IPv4Protocol {
		return corev1.IPv6Protocol
	}
	return corev1.IPv4Protocol
}
