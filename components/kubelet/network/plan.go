package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Peer is another node of the cluster, as the kubelet sees it in the Node
// list: its InternalIP and its node.spec.podCIDRs.
type Peer struct {
	Name     string
	IP       net.IP
	PodCIDRs []string
}

// routeSpec is one route this package owns, in a comparable form so that
// desired and current state can be diffed with ==.
type routeSpec struct {
	Dst netip.Prefix
	// Gw is the next hop: the peer's node IP (routes mode) or the peer's
	// VTEP address (vxlan mode).
	Gw netip.Addr
	// OnLink marks vxlan routes: the gateway is "on the VXLAN device" even
	// though no subnet there contains it.
	OnLink bool
}

// neighSpec is a permanent ARP/NDP entry on the VXLAN device: the peer's
// VTEP address resolves to the peer's VTEP MAC without any broadcast.
type neighSpec struct {
	IP  netip.Addr
	MAC string
}

// fdbSpec is a bridge FDB entry on the VXLAN device: frames for MAC are
// sent in UDP to the peer node's underlay address Dst.
type fdbSpec struct {
	MAC string
	Dst netip.Addr
}

// peerPlan is everything SyncPeers wants in the kernel.
type peerPlan struct {
	routes []routeSpec
	neighs []neighSpec
	fdbs   []fdbSpec
	// skipped lists pod CIDRs routes mode cannot reach (family mismatch).
	skipped []string
}

// planPeers turns the peer list into the routes (and, for vxlan, neighbour
// and FDB entries) this node needs. This node itself (by name or IP) is
// skipped, and so is any peer CIDR that overlaps our own. Bad peers are
// skipped and reported in the joined error; good peers are still planned so
// that one broken Node object does not cut the whole cluster off.
func planPeers(mode, selfName string, selfIP netip.Addr, own []netip.Prefix, peers []Peer) (peerPlan, error) {
	var plan peerPlan
	var errs []error
	for _, p := range peers {
		ip, ok := toAddr(p.IP)
		if p.Name == selfName || (ok && ip == selfIP) {
			continue
		}
		if !ok || !ip.IsValid() || ip.IsUnspecified() {
			errs = append(errs, fmt.Errorf("peer %s: no node IP", p.Name))
			continue
		}
		mac := vtepMAC(ip).String()
		added := false
		for _, s := range p.PodCIDRs {
			c, err := netip.ParsePrefix(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("peer %s: pod CIDR %q: %w", p.Name, s, err))
				continue
			}
			c = c.Masked()
			if overlapsAny(c, own) {
				errs = append(errs, fmt.Errorf("peer %s: pod CIDR %s overlaps this node's", p.Name, c))
				continue
			}
			switch mode {
			case ModeRoutes:
				// Linux has no IPv6 route via an IPv4 gateway (only the
				// reverse, RFC 5549), so host-gw carries only the pod CIDR
				// of the node IP's family. Dual-stack across nodes with
				// IPv4 node IPs needs vxlan mode.
				if c.Addr().Is4() != ip.Is4() {
					plan.skipped = append(plan.skipped, fmt.Sprintf("%s via %s", c, ip))
					continue
				}
				plan.routes = append(plan.routes, routeSpec{Dst: c, Gw: ip})
			case ModeVXLAN:
				gw := networkAddr(c)
				plan.routes = append(plan.routes, routeSpec{Dst: c, Gw: gw, OnLink: true})
				plan.neighs = append(plan.neighs, neighSpec{IP: gw, MAC: mac})
				added = true
			}
		}
		if added {
			plan.fdbs = append(plan.fdbs, fdbSpec{MAC: mac, Dst: ip})
		}
	}
	return plan, errors.Join(errs...)
}

func overlapsAny(c netip.Prefix, set []netip.Prefix) bool {
	for _, o := range set {
		if o.Overlaps(c) {
			return true
		}
	}
	return false
}

// diff says what to add and what to delete to turn have into want.
func diff[K comparable](want, have []K) (add, del []K) {
	w := make(map[K]bool, len(want))
	for _, k := range want {
		w[k] = true
	}
	h := make(map[K]bool, len(have))
	for _, k := range have {
		h[k] = true
		if !w[k] {
			del = append(del, k)
		}
	}
	for _, k := range want {
		if !h[k] {
			add = append(add, k)
			h[k] = true // add duplicates once
		}
	}
	return add, del
}
