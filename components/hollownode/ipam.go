package hollownode

import (
	"fmt"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// fakePodRange holds a /24 per node for nodes without spec.podCIDRs.
var fakePodRange = netip.MustParsePrefix("10.64.0.0/10")

// fakePodCIDR is node i's fake pod range: 10.(64+i/256).(i%256).0/24.
func fakePodCIDR(index int) netip.Prefix {
	return netip.PrefixFrom(addrAdd(fakePodRange.Addr(), uint64(index)*256), 24)
}

// podCIDRs are the ranges a node's pods get addresses from: the node's
// spec.podCIDRs (one per IP family, set by the node IPAM controller), or the
// fake range when it has none yet.
func podCIDRs(n *corev1.Node, index int) []netip.Prefix {
	var cidrs []string
	if n != nil {
		cidrs = n.Spec.PodCIDRs
		if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
			cidrs = []string{n.Spec.PodCIDR}
		}
	}
	var out []netip.Prefix
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p.Masked())
		}
	}
	if len(out) == 0 {
		out = []netip.Prefix{fakePodCIDR(index)}
	}
	return out
}

// addrAdd returns addr + n (within the low 64 bits for IPv6).
func addrAdd(addr netip.Addr, n uint64) netip.Addr {
	if addr.Is4() {
		b := addr.As4()
		v := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		v += n
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	b := addr.As16()
	var low uint64
	for i := 8; i < 16; i++ {
		low = low<<8 | uint64(b[i])
	}
	low += n
	for i := 15; i >= 8; i-- {
		b[i] = byte(low)
		low >>= 8
	}
	return netip.AddrFrom16(b)
}

// offsetOf is addr's position in cidr, or false when it is outside.
func offsetOf(cidr netip.Prefix, addr netip.Addr) (uint64, bool) {
	if !cidr.Contains(addr) {
		return 0, false
	}
	a, base := addr.AsSlice(), cidr.Addr().AsSlice()
	var off uint64
	for i := max(0, len(a)-8); i < len(a); i++ {
		off = off<<8 | uint64(a[i]-base[i])
	}
	return off, true
}

// usable is the first offset past the last one pods may get in every cidr:
// offsets run from 2 (.1 is the bridge, like host-local IPAM) to the one
// before the broadcast address. Large (IPv6) ranges are capped at 65536.
func usable(cidrs []netip.Prefix) uint64 {
	size := uint64(1 << 16)
	for _, c := range cidrs {
		if bits := c.Addr().BitLen() - c.Bits(); bits < 16 {
			size = min(size, uint64(1)<<bits)
		}
	}
	return size - 1
}

// addrsAt are the pod addresses at offset in each cidr, first family first.
func addrsAt(cidrs []netip.Prefix, offset uint64) []string {
	out := make([]string, 0, len(cidrs))
	for _, c := range cidrs {
		out = append(out, addrAdd(c.Addr(), offset).String())
	}
	return out
}

// ipam hands out pod address offsets per node and takes them back when a
// pod ends, like a CNI IPAM plugin's store. Offsets (not addresses) are
// kept so that a dual-stack pod gets the same host part in both families.
type ipam struct {
	mu   sync.Mutex
	used map[string]map[uint64]string // node → offset → pod key
	pods map[string]allocation        // pod key → its offset
}

type allocation struct {
	node   string
	uid    types.UID
	offset uint64
}

func newIPAM() *ipam {
	return &ipam{used: map[string]map[uint64]string{}, pods: map[string]allocation{}}
}

// assign returns the pod's offset on node, allocating the lowest free one
// below limit the first time.
func (a *ipam) assign(node, key string, uid types.UID, limit uint64) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if al, ok := a.pods[key]; ok {
		if al.node == node && al.uid == uid {
			return al.offset, nil
		}
		a.releaseLocked(key)
	}
	used := a.used[node]
	for off := uint64(2); off < limit; off++ {
		if _, taken := used[off]; !taken {
			a.takeLocked(node, key, uid, off)
			return off, nil
		}
	}
	return 0, fmt.Errorf("pod %s on %s: no free pod address (%d in use)", key, node, len(used))
}

// reserve records an address a pod already has (say, after this process
// restarted), so it is not handed out twice.
func (a *ipam) reserve(node, key string, uid types.UID, offset uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.pods[key]; ok {
		return
	}
	if _, taken := a.used[node][offset]; !taken {
		a.takeLocked(node, key, uid, offset)
	}
}

func (a *ipam) takeLocked(node, key string, uid types.UID, off uint64) {
	if a.used[node] == nil {
		a.used[node] = map[uint64]string{}
	}
	a.used[node][off] = key
	a.pods[key] = allocation{node: node, uid: uid, offset: off}
}

// release frees the pod's address, if it has one.
func (a *ipam) release(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.releaseLocked(key)
}

func (a *ipam) releaseLocked(key string) {
	al, ok := a.pods[key]
	if !ok {
		return
	}
	delete(a.pods, key)
	if a.used[al.node][al.offset] == key {
		delete(a.used[al.node], al.offset)
	}
}
