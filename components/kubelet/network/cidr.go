package network

import (
	"fmt"
	"net"
	"net/netip"
)

// CIDR arithmetic on netip values. Pod CIDRs come from node.spec.podCIDRs as
// strings; everything inside the package works on masked netip.Prefix values
// and converts to net.IP/net.IPNet only at the netlink boundary.

// parsePodCIDRs parses and validates node.spec.podCIDRs: one or two prefixes,
// at most one per address family, each big enough for a gateway and a pod.
func parsePodCIDRs(cidrs []string) ([]netip.Prefix, error) {
	if len(cidrs) == 0 || len(cidrs) > 2 {
		return nil, fmt.Errorf("pod CIDRs %q: want one or two (one per family)", cidrs)
	}
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("pod CIDR %q: %w", s, err)
		}
		p = p.Masked()
		if p.Addr().BitLen()-p.Bits() < 2 {
			return nil, fmt.Errorf("pod CIDR %q: too small, need at least a /%d", s, p.Addr().BitLen()-2)
		}
		for _, q := range out {
			if q.Addr().Is4() == p.Addr().Is4() {
				return nil, fmt.Errorf("pod CIDRs %q: two of the same family", cidrs)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// networkAddr is the all-zeros host of p: flannel puts this address on the
// VXLAN device (10.200.1.0/32), so it is never handed to a pod.
func networkAddr(p netip.Prefix) netip.Addr { return p.Masked().Addr() }

// gatewayAddr is the first host of p, the bridge address pods route through.
func gatewayAddr(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }

// lastAddr is the all-ones host of p (the IPv4 broadcast address).
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As16()
	hostBits := p.Addr().BitLen() - p.Bits()
	// Set the low hostBits bits of the address, byte by byte from the end.
	for i := 15; hostBits > 0; i-- {
		n := min(hostBits, 8)
		a[i] |= byte(1<<n - 1)
		hostBits -= n
	}
	out := netip.AddrFrom16(a)
	if p.Addr().Is4() {
		out = out.Unmap()
	}
	return out
}

// usableRange is the first and last address IPAM may hand out: everything
// except the network address, the gateway and the last (broadcast) address.
func usableRange(p netip.Prefix) (first, last netip.Addr) {
	return gatewayAddr(p).Next(), lastAddr(p).Prev()
}

// usableCount is how many addresses usableRange holds, saturated at 1<<62 so
// an IPv6 /64 fits in an int.
func usableCount(p netip.Prefix) int {
	hostBits := p.Addr().BitLen() - p.Bits()
	if hostBits >= 62 {
		return 1 << 62
	}
	return 1<<hostBits - 3
}

// ipNet converts an address and the prefix it lives in to a net.IPNet
// (10.200.1.5/24), the form netlink and the Result use.
func ipNet(a netip.Addr, p netip.Prefix) net.IPNet {
	return net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// hostNet is a single-address net.IPNet (/32 or /128).
func hostNet(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

// prefixNet converts a prefix to *net.IPNet for route destinations.
func prefixNet(p netip.Prefix) *net.IPNet {
	p = p.Masked()
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// toAddr converts a net.IP to a netip.Addr, unmapping IPv4-in-IPv6 forms so
// that 10.0.0.1 from net.ParseIP compares equal to netip.MustParseAddr.
func toAddr(ip net.IP) (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(ip)
	return a.Unmap(), ok
}
