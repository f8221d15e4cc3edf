package allocator

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Update reserves what newSvc needs beyond what oldSvc (the stored object)
// already holds: IPs when leaving ExternalName or becoming dual-stack, node
// ports when becoming NodePort/LoadBalancer or gaining ports, a health check
// node port. Cluster IPs cannot change otherwise (422 "may not change once
// set").
//
// Nothing is freed yet, because the write of newSvc may still fail. The
// caller runs commit after a successful write (it frees what oldSvc held and
// newSvc does not) or rollback after a failed one (it frees what Update
// reserved). On error both are no-ops and nothing stays reserved.
func (s *Services) Update(ctx context.Context, newSvc, oldSvc *corev1.Service) (commit, rollback func(), err error) {
	r := s.begin(ctx, newSvc)
	if err := s.update(ctx, newSvc, oldSvc, r); err != nil {
		r.undo()
		return func() {}, func() {}, err
	}
	// Whatever the old object held and the new one does not is freed on commit.
	keepIPs := map[string]bool{}
	for _, ip := range heldIPs(newSvc) {
		keepIPs[ip.String()] = true
	}
	for _, ip := range heldIPs(oldSvc) {
		if !keepIPs[ip.String()] {
			r.oldIPs = append(r.oldIPs, ip)
		}
	}
	keepPorts := heldPorts(newSvc)
	for _, port := range heldPorts(oldSvc) {
		if !slices.Contains(keepPorts, port) {
			r.oldPorts = append(r.oldPorts, port)
		}
	}
	return r.commit, r.undo, nil
}

func (s *Services) update(ctx context.Context, svc, old *corev1.Service, r *reservations) error {
	patchAllocatedValues(svc, old)
	dropTypeDependentFields(svc, old)
	if el := checkClusterIPFields(svc); len(el) > 0 {
		return invalid(svc, el)
	}
	if el := append(checkImmutableClusterIPs(svc, old), checkTypeFields(svc)...); len(el) > 0 {
		return invalid(svc, el)
	}
	if needsClusterIP(svc) {
		if err := s.initIPFamilyFields(svc, old); err != nil {
			return err
		}
		from := -1 // index of the first clusterIP to reserve; -1: none
		switch {
		case !needsClusterIP(old):
			from = 0 // from ExternalName: everything is new
		case isHeadless(old):
			// Headless stays headless (checkImmutableClusterIPs).
		case len(old.Spec.IPFamilies) == 1 && len(svc.Spec.IPFamilies) == 2:
			from = 1 // upgrade to dual-stack: reserve the secondary
		}
		if from >= 0 {
			if err := s.allocClusterIPs(ctx, svc, from, r); err != nil {
				return err
			}
		}
	}
	if err := s.allocNodePorts(ctx, svc, old, r); err != nil {
		return err
	}
	oldHC := needsHealthCheck(old) && old.Spec.HealthCheckNodePort != 0
	if needsHealthCheck(svc) && (!oldHC || svc.Spec.HealthCheckNodePort != old.Spec.HealthCheckNodePort) {
		return s.allocHealthCheckNodePort(ctx, svc, r)
	}
	return nil
}

// patchAllocatedValues copies values the allocator filled in on the stored
// object into an update that left them out (a `kubectl replace` of the
// original manifest has no clusterIP or nodePort), as upstream does, so such
// an update keeps them instead of being refused or re-allocated.
func patchAllocatedValues(svc, old *corev1.Service) {
	if needsClusterIP(old) && needsClusterIP(svc) {
		if svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIP = old.Spec.ClusterIP
		}
		if len(svc.Spec.ClusterIPs) == 0 && len(old.Spec.ClusterIPs) > 0 {
			svc.Spec.ClusterIPs = slices.Clone(old.Spec.ClusterIPs)
		}
	}
	if needsNodePorts(old) && needsNodePorts(svc) {
		used := map[int32]bool{}
		for _, p := range svc.Spec.Ports {
			used[p.NodePort] = true
		}
		byName := map[string]int32{}
		for _, p := range old.Spec.Ports {
			byName[p.Name] = p.NodePort
		}
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort == 0 && !used[byName[p.Name]] {
				p.NodePort = byName[p.Name]
			}
		}
	}
	if needsHealthCheck(old) && needsHealthCheck(svc) && svc.Spec.HealthCheckNodePort == 0 {
		svc.Spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort
	}
}

// dropTypeDependentFields clears values that belong to the old type when the
// type changes and the user left them untouched (`kubectl edit` changing
// only `type: NodePort` to `type: ClusterIP`), as upstream's strategy does.
// The reservations behind them are freed on commit.
func dropTypeDependentFields(svc, old *corev1.Service) {
	if needsClusterIP(old) && !needsClusterIP(svc) {
		if slices.Equal(svc.Spec.ClusterIPs, old.Spec.ClusterIPs) {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
		}
		if slices.Equal(svc.Spec.IPFamilies, old.Spec.IPFamilies) {
			svc.Spec.IPFamilies = nil
		}
		if equalPolicy(svc.Spec.IPFamilyPolicy, old.Spec.IPFamilyPolicy) {
			svc.Spec.IPFamilyPolicy = nil
		}
	}
	if needsNodePorts(old) && !needsNodePorts(svc) && sameNodePorts(svc, old) {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
	}
	if needsHealthCheck(old) && !needsHealthCheck(svc) && svc.Spec.HealthCheckNodePort == old.Spec.HealthCheckNodePort {
		svc.Spec.HealthCheckNodePort = 0
	}
}

// checkImmutableClusterIPs: a cluster IP is baked into clients, DNS answers
// and every node's kube-proxy rules, so once set it stays. Adding or dropping
// the secondary (dual-stack upgrade/downgrade) is the only change allowed,
// apart from leaving or entering ExternalName. Upstream:
// validateUpgradeDowngradeClusterIPs.
func checkImmutableClusterIPs(svc, old *corev1.Service) field.ErrorList {
	if !needsClusterIP(svc) || !needsClusterIP(old) || (isHeadless(svc) && isHeadless(old)) {
		return nil
	}
	var el field.ErrorList
	oldIPs, newIPs := old.Spec.ClusterIPs, svc.Spec.ClusterIPs
	if len(oldIPs) == 0 && old.Spec.ClusterIP != "" {
		oldIPs = []string{old.Spec.ClusterIP}
	}
	switch {
	case len(oldIPs) == len(newIPs):
		for i := range oldIPs {
			if oldIPs[i] != newIPs[i] {
				el = append(el, field.Invalid(clusterIPsPath.Index(i), newIPs, "may not change once set"))
			}
		}
	case len(newIPs) == 0:
		el = append(el, field.Invalid(clusterIPsPath.Index(0), newIPs, "primary clusterIP can not be unset"))
	case len(oldIPs) > 0 && newIPs[0] != oldIPs[0]:
		el = append(el, field.Invalid(clusterIPsPath.Index(0), newIPs, "may not change once set"))
	case len(newIPs) < len(oldIPs) &&
		(svc.Spec.IPFamilyPolicy == nil || *svc.Spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack):
		el = append(el, field.Invalid(clusterIPsPath.Index(0), newIPs,
			"`ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary clusterIP"))
	}
	oldFams, newFams := old.Spec.IPFamilies, svc.Spec.IPFamilies
	for i := 0; i < min(len(oldFams), len(newFams)); i++ {
		if oldFams[i] != newFams[i] {
			el = append(el, field.Invalid(familiesPath.Index(i), newFams, "may not change once set"))
		}
	}
	return el
}

func sameNodePorts(a, b *corev1.Service) bool {
	return slices.EqualFunc(a.Spec.Ports, b.Spec.Ports, func(x, y corev1.ServicePort) bool { return x.NodePort == y.NodePort })
}

func equalPolicy(a, b *corev1.IPFamilyPolicy) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}
