package network

import (
	"hash/fnv"
	"net"
	"net/netip"
)

// MAC addresses derived from IP addresses. Flannel publishes each node's VTEP
// MAC in a node annotation; kubelab derives it from the node IP instead, so a
// node can program the ARP/FDB entries for a peer from the peer's Node object
// alone, with no extra state to publish or go stale.

// vtepMAC is the MAC of the VXLAN device on the node whose underlay address
// is nodeIP: 0e:6b:<the four IPv4 bytes>, e.g. 10.240.0.22 -> 0e:6b:0a:f0:00:16.
// 0x0e has the locally-administered bit set and the multicast bit clear.
func vtepMAC(nodeIP netip.Addr) net.HardwareAddr { return derivedMAC(0x6b, nodeIP) }

// bridgeMAC is the bridge's MAC, fixed from its gateway address. A Linux
// bridge without a set MAC takes the lowest MAC of its ports, so it would
// change as pods come and go and pods' ARP caches would go stale.
func bridgeMAC(gateway netip.Addr) net.HardwareAddr { return derivedMAC(0x6a, gateway) }

// derivedMAC is 0e:<kind>:<4 bytes>: the IPv4 address itself, or a 32-bit
// FNV-1a hash of an IPv6 address (which does not fit).
func derivedMAC(kind byte, a netip.Addr) net.HardwareAddr {
	var tail [4]byte
	if a.Is4() || a.Is4In6() {
		tail = a.Unmap().As4()
	} else {
		h := fnv.New32a()
		b := a.As16()
		h.Write(b[:])
		s := h.Sum32()
		tail = [4]byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)}
	}
	return net.HardwareAddr{0x0e, kind, tail[0], tail[1], tail[2], tail[3]}
}
