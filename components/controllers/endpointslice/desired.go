package endpointslice

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	corelisters "k8s.io/client-go/listers/core/v1"

	"github.com/kubelab/kubelab/components/controllers/endpoints/membership"
)

// portSet is the endpoints of one address type that serve one set of
// ports: every slice holds exactly one port set, so pods that resolve a
// named targetPort to different numbers land in different slices.
type portSet struct {
	ports     []discoveryv1.EndpointPort
	endpoints map[string]discoveryv1.Endpoint // by endpointKey
}

// desiredState is what the slices of a service should hold, by address
// type and then by port-set key.
type desiredState map[discoveryv1.AddressType]map[string]*portSet

// addressTypes are the slice address types a service wants, one per IP family.
func addressTypes(svc *corev1.Service) []discoveryv1.AddressType {
	var out []discoveryv1.AddressType
	for _, f := range membership.Families(svc) {
		if f == corev1.IPv6Protocol {
			out = append(out, discoveryv1.AddressTypeIPv6)
		} else {
			out = append(out, discoveryv1.AddressTypeIPv4)
		}
	}
	return out
}

func familyOf(at discoveryv1.AddressType) corev1.IPFamily {
	if at == discoveryv1.AddressTypeIPv6 {
		return corev1.IPv6Protocol
	}
	return corev1.IPv4Protocol
}

// desired computes the endpoints of svc from the pods its selector picked.
// Unlike the Endpoints API, slices can say "terminating", so terminating
// pods stay listed (ready=false) while they drain connections.
func desired(svc *corev1.Service, pods []*corev1.Pod, nodes corelisters.NodeLister) desiredState {
	state := desiredState{}
	for _, at := range addressTypes(svc) {
		state[at] = map[string]*portSet{}
	}
	for _, pod := range pods {
		if !membership.Include(pod, true) {
			continue
		}
		ports := endpointPorts(svc, pod)
		pk := portsKey(ports)
		for at, sets := range state {
			ep, ok := podToEndpoint(svc, pod, at, nodes)
			if !ok {
				continue
			}
			ps := sets[pk]
			if ps == nil {
				ps = &portSet{ports: ports, endpoints: map[string]discoveryv1.Endpoint{}}
				sets[pk] = ps
			}
			ps.endpoints[endpointKey(ep)] = ep
		}
	}
	return state
}

// podToEndpoint is one pod as an endpoint of one address type (false if
// the pod has no address of that family).
func podToEndpoint(svc *corev1.Service, pod *corev1.Pod, at discoveryv1.AddressType, nodes corelisters.NodeLister) (discoveryv1.Endpoint, bool) {
	ips := membership.IPsOfFamily(pod, familyOf(at))
	if len(ips) == 0 {
		return discoveryv1.Endpoint{}, false
	}
	// serving: the pod passes its readiness probe. terminating: deletion
	// has begun. ready is what old consumers route to: serving and not
	// terminating (or anything, with publishNotReadyAddresses).
	serving := membership.Ready(pod)
	terminating := pod.DeletionTimestamp != nil
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses:  ips,
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if node := pod.Spec.NodeName; node != "" {
		ep.NodeName = &node
		// The zone lets kube-proxy prefer nearby endpoints (topology hints).
		if n, err := nodes.Get(node); err == nil {
			if zone, ok := n.Labels[corev1.LabelTopologyZone]; ok && zone != "" {
				ep.Zone = &zone
			}
		}
	}
	if h := membership.Hostname(pod, svc); h != "" {
		ep.Hostname = &h
	}
	return ep, true
}

// endpointPorts resolves the service's ports for one pod, skipping those
// the pod does not serve.
func endpointPorts(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	var out []discoveryv1.EndpointPort
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		num, err := membership.FindPort(pod, sp)
		if err != nil {
			continue
		}
		name, proto := sp.Name, sp.Protocol
		out = append(out, discoveryv1.EndpointPort{Name: &name, Port: &num, Protocol: &proto, AppProtocol: sp.AppProtocol})
	}
	sort.Slice(out, func(i, j int) bool { return portString(out[i]) < portString(out[j]) })
	return out
}

// portsKey identifies a port set, whatever the order of its ports.
func portsKey(ports []discoveryv1.EndpointPort) string {
	keys := make([]string, 0, len(ports))
	for _, p := range ports {
		keys = append(keys, portString(p))
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func portString(p discoveryv1.EndpointPort) string {
	return fmt.Sprintf("%s/%d/%s/%s", deref(p.Name), deref(p.Port), deref(p.Protocol), deref(p.AppProtocol))
}

// endpointKey identifies an endpoint across syncs: the same pod with the
// same addresses and hostname. Anything else about it (conditions, zone)
// may change in place.
func endpointKey(ep discoveryv1.Endpoint) string {
	ref := ""
	if ep.TargetRef != nil {
		ref = ep.TargetRef.Namespace + "/" + ep.TargetRef.Name
	}
	return ref + "|" + strings.Join(ep.Addresses, ",") + "|" + deref(ep.Hostname)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
