package endpoints

import (
	"fmt"
	"math"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubelab/kubelab/components/controllers/endpoints/membership"
)

// maxCapacity is the most addresses one Endpoints object holds; beyond it
// the list is cut and annotated, and only EndpointSlices have them all.
const maxCapacity = 1000

// subsets computes the Endpoints subsets of svc from the pods its selector
// picked. An Endpoints subset says "all these addresses serve all these
// ports"; pods that resolve a named targetPort to different numbers end up
// in different subsets.
func subsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	family := membership.Families(svc)[0] // the legacy API holds one family: the primary
	g := newGrouping()
	for _, pod := range pods {
		if !membership.Include(pod, svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		ips := membership.IPsOfFamily(pod, family)
		if len(ips) == 0 {
			continue // e.g. a single-stack pod behind a dual-stack-primary-IPv6 service
		}
		addr := corev1.EndpointAddress{
			IP:        ips[0],
			Hostname:  membership.Hostname(pod, svc),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		}
		if pod.Spec.NodeName != "" {
			node := pod.Spec.NodeName
			addr.NodeName = &node
		}
		// publishNotReadyAddresses: "DNS for my peers before they are
		// ready", as StatefulSets need to find each other while starting.
		ready := svc.Spec.PublishNotReadyAddresses || membership.Ready(pod)

		if len(svc.Spec.Ports) == 0 {
			if membership.Headless(svc) {
				g.add(nil, addr, ready) // a headless service may have no ports: addresses only
			}
			continue
		}
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			num, err := membership.FindPort(pod, sp)
			if err != nil {
				continue // this pod does not serve this port
			}
			g.add(&corev1.EndpointPort{Name: sp.Name, Port: num, Protocol: sp.Protocol, AppProtocol: sp.AppProtocol}, addr, ready)
		}
	}
	return g.subsets()
}

// grouping packs (port, address) pairs into subsets the way upstream's
// RepackSubsets does: first each port collects the addresses serving it,
// then ports whose address sets are identical share one subset.
type grouping struct {
	ports map[string]*portAddrs // by portKey
}

type portAddrs struct {
	port  *corev1.EndpointPort // nil: the "no ports" sentinel
	addrs map[string]addrEntry // by addrKey
}

type addrEntry struct {
	addr  corev1.EndpointAddress
	ready bool
}

func newGrouping() *grouping { return &grouping{ports: map[string]*portAddrs{}} }

func (g *grouping) add(port *corev1.EndpointPort, addr corev1.EndpointAddress, ready bool) {
	k := portKey(port)
	pa := g.ports[k]
	if pa == nil {
		pa = &portAddrs{port: port, addrs: map[string]addrEntry{}}
		g.ports[k] = pa
	}
	pa.addrs[addrKey(addr)] = addrEntry{addr: addr, ready: ready}
}

func (g *grouping) subsets() []corev1.EndpointSubset {
	type set struct {
		addrs map[string]addrEntry
		ports []corev1.EndpointPort
	}
	bySet := map[string]*set{}
	for _, pa := range g.ports {
		id := addrSetID(pa.addrs)
		s := bySet[id]
		if s == nil {
			s = &set{addrs: pa.addrs}
			bySet[id] = s
		}
		if pa.port != nil {
			s.ports = append(s.ports, *pa.port)
		}
	}
	ids := make([]string, 0, len(bySet))
	for id := range bySet {
		ids = append(ids, id)
	}
	sort.Strings(ids) // a stable order, so an unchanged world compares equal
	var out []corev1.EndpointSubset
	for _, id := range ids {
		s := bySet[id]
		var sub corev1.EndpointSubset
		for _, k := range sortedKeys(s.addrs) {
			if e := s.addrs[k]; e.ready {
				sub.Addresses = append(sub.Addresses, e.addr)
			} else {
				sub.NotReadyAddresses = append(sub.NotReadyAddresses, e.addr)
			}
		}
		sort.Slice(s.ports, func(i, j int) bool { return portKey(&s.ports[i]) < portKey(&s.ports[j]) })
		sub.Ports = s.ports
		out = append(out, sub)
	}
	return out
}

func portKey(p *corev1.EndpointPort) string {
	if p == nil {
		return ""
	}
	app := ""
	if p.AppProtocol != nil {
		app = *p.AppProtocol
	}
	return fmt.Sprintf("%s/%d/%s/%s", p.Name, p.Port, p.Protocol, app)
}

// addrKey orders addresses by IP (as strings: any stable order will do)
// and tells apart pods sharing an IP (hostNetwork pods on one node).
func addrKey(a corev1.EndpointAddress) string {
	uid := ""
	if a.TargetRef != nil {
		uid = string(a.TargetRef.UID)
	}
	return a.IP + "/" + uid
}

func addrSetID(addrs map[string]addrEntry) string {
	var b strings.Builder
	for _, k := range sortedKeys(addrs) {
		fmt.Fprintf(&b, "%s=%t;", k, addrs[k].ready)
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// countAddresses counts ready and not-ready addresses over all subsets.
func countAddresses(subsets []corev1.EndpointSubset) (ready, notReady int) {
	for _, s := range subsets {
		ready += len(s.Addresses)
		notReady += len(s.NotReadyAddresses)
	}
	return ready, notReady
}

// truncate cuts subsets down to maxCapacity addresses, keeping ready ones
// first and sharing the cut among subsets in proportion to their size,
// like upstream. It reports whether it cut anything.
func truncate(subsets []corev1.EndpointSubset) bool {
	ready, notReady := countAddresses(subsets)
	if ready+notReady <= maxCapacity {
		return false
	}
	cutReady := ready > maxCapacity
	limit, total := maxCapacity-ready, notReady // room left for not-ready ones
	if cutReady {
		limit, total = maxCapacity, ready
	}
	room := limit
	for i := range subsets {
		s := &subsets[i]
		n := len(s.NotReadyAddresses)
		if cutReady {
			n = len(s.Addresses)
		}
		take := int(math.Ceil(float64(n) / float64(total) * float64(limit)))
		take = min(take, room, n)
		if cutReady {
			s.Addresses = s.Addresses[:take]
			s.NotReadyAddresses = nil
		} else {
			s.NotReadyAddresses = s.NotReadyAddresses[:take]
		}
		room -= take
	}
	return true
}
