package allocator

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// A NodePort Service is reachable on <any node IP>:<nodePort>; kube-proxy on
// every node forwards that port to the Service. The port must therefore be
// unique in the whole cluster, which is why it is reserved here. A
// LoadBalancer Service is a NodePort Service plus an external load balancer
// that sends traffic to those node ports (unless
// allocateLoadBalancerNodePorts is false).

var (
	portsPath       = field.NewPath("spec", "ports")
	healthCheckPath = field.NewPath("spec", "healthCheckNodePort")
)

// checkTypeFields refuses values on types that do not use them, as upstream
// validation does: a clusterIP or nodePort the allocator never reserved
// must not end up stored, or two Services could end up sharing it.
func checkTypeFields(svc *corev1.Service) field.ErrorList {
	var el field.ErrorList
	if !needsClusterIP(svc) {
		forbid := func(path *field.Path, set bool) {
			if set {
				el = append(el, field.Forbidden(path, "may not be set for ExternalName services"))
			}
		}
		forbid(field.NewPath("spec", "clusterIP"), svc.Spec.ClusterIP != "")
		forbid(clusterIPsPath, len(svc.Spec.ClusterIPs) > 0)
		forbid(familiesPath, len(svc.Spec.IPFamilies) > 0)
		forbid(policyPath, svc.Spec.IPFamilyPolicy != nil)
	}
	if !needsNodePorts(svc) {
		for i, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				el = append(el, field.Forbidden(portsPath.Index(i).Child("nodePort"),
					fmt.Sprintf("may not be used when `type` is '%s'", typeOf(svc))))
			}
		}
	}
	if svc.Spec.HealthCheckNodePort != 0 && !needsHealthCheck(svc) {
		el = append(el, field.Invalid(healthCheckPath, svc.Spec.HealthCheckNodePort,
			"may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
	}
	return el
}

// shouldAllocateNodePorts: NodePort always; LoadBalancer unless the user
// turned it off (for load balancers that reach pods directly). Requested
// node ports are reserved either way.
func shouldAllocateNodePorts(svc *corev1.Service) bool {
	switch typeOf(svc) {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

// allocNodePorts reserves a node port for every port of svc that needs one.
// On update, old is the stored object: ports it already holds need no new
// reservation. Ports that share a port number (53/UDP and 53/TCP) share one
// node port, like upstream, so `dig -p <nodePort>` works over both.
func (s *Services) allocNodePorts(ctx context.Context, svc, old *corev1.Service, r *reservations) error {
	if !needsNodePorts(svc) {
		return nil
	}
	if s.Ports == nil {
		return apierrors.NewInternalError(fmt.Errorf("service %s: node port allocation is not configured", ownerOf(svc)))
	}
	held := map[int32]bool{} // held by the stored object or reserved just now
	if old != nil {
		for _, p := range heldPorts(old) {
			held[int32(p)] = true
		}
	}
	byPort := map[int32]int32{} // service port number -> node port
	ports := svc.Spec.Ports
	for i := range ports {
		p := &ports[i]
		if p.NodePort == 0 {
			if !shouldAllocateNodePorts(svc) {
				continue
			}
			p.NodePort = byPort[p.Port]
			if p.NodePort == 0 {
				p.NodePort = requestedNodePort(p.Port, ports)
			}
		}
		path := portsPath.Index(i).Child("nodePort")
		switch {
		case p.NodePort == 0:
			port, err := s.Ports.AllocateNext(ctx, r.owner)
			if err != nil {
				return allocFailure(svc, path, "", err)
			}
			p.NodePort = int32(port)
			r.newPorts = append(r.newPorts, port)
		case held[p.NodePort]:
			// Already ours.
		default:
			if err := s.Ports.Allocate(ctx, int(p.NodePort), r.owner); err != nil {
				return allocFailure(svc, path, p.NodePort, err)
			}
			r.newPorts = append(r.newPorts, int(p.NodePort))
		}
		held[p.NodePort] = true
		if byPort[p.Port] == 0 {
			byPort[p.Port] = p.NodePort
		}
	}
	// One node port may serve two protocols, never the same protocol twice:
	// kube-proxy could not tell the two ports apart.
	type use struct {
		nodePort int32
		protocol corev1.Protocol
	}
	seen := map[use]bool{}
	for i, p := range ports {
		u := use{p.NodePort, p.Protocol}
		if u.protocol == "" {
			u.protocol = corev1.ProtocolTCP
		}
		if p.NodePort != 0 && seen[u] {
			return invalid(svc, field.ErrorList{field.Duplicate(portsPath.Index(i).Child("nodePort"), p.NodePort)})
		}
		seen[u] = true
	}
	return nil
}

// requestedNodePort finds a node port the user asked for on another entry
// with the same port number.
func requestedNodePort(port int32, ports []corev1.ServicePort) int32 {
	for _, p := range ports {
		if p.Port == port && p.NodePort != 0 {
			return p.NodePort
		}
	}
	return 0
}

// allocHealthCheckNodePort reserves spec.healthCheckNodePort (the requested
// one, or any).
func (s *Services) allocHealthCheckNodePort(ctx context.Context, svc *corev1.Service, r *reservations) error {
	if s.Ports == nil {
		return apierrors.NewInternalError(fmt.Errorf("service %s: node port allocation is not configured", ownerOf(svc)))
	}
	if hc := svc.Spec.HealthCheckNodePort; hc != 0 {
		if err := s.Ports.Allocate(ctx, int(hc), r.owner); err != nil {
			return allocFailure(svc, healthCheckPath, hc, err)
		}
		r.newPorts = append(r.newPorts, int(hc))
		return nil
	}
	port, err := s.Ports.AllocateNext(ctx, r.owner)
	if err != nil {
		return allocFailure(svc, healthCheckPath, "", err)
	}
	svc.Spec.HealthCheckNodePort = int32(port)
	r.newPorts = append(r.newPorts, port)
	return nil
}
