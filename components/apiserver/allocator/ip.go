package allocator

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
)

// IPAllocator reserves Service IPs from one CIDR (one per IP family; a
// dual-stack cluster has two). It keeps no state of its own: every
// reservation is a key in etcd, so any number of apiserver replicas can share
// one range.
//
// Addresses are handled as offsets from the network address: in 10.32.0.0/24
// offset 1 is 10.32.0.1 and offset 254 is 10.32.0.254. Offset 0 (the network
// address) is never handed out, nor is the IPv4 broadcast address.
type IPAllocator struct {
	store  keyStore
	cidr   *net.IPNet
	prefix netip.Prefix
	family corev1.IPFamily
	last   uint64 // highest allocatable offset; offsets 1..last are usable
	static uint64 // offsets 1..static are the band kept for requested IPs
}

// NewIP makes an allocator for cidr (IPv4 up to /30, IPv6 from /64 to
// /126), keeping its keys under keyRoot+"/ipaddresses/" ("" means
// "/registry"). Host bits in cidr are ignored: 10.32.0.1/24 means 10.32.0.0/24.
func NewIP(client *clientv3.Client, cidr *net.IPNet, keyRoot string) (*IPAllocator, error) {
	if cidr == nil {
		return nil, errors.New("service CIDR is nil")
	}
	addr, ok := netip.AddrFromSlice(cidr.IP)
	ones, bits := cidr.Mask.Size()
	if !ok || bits == 0 {
		return nil, fmt.Errorf("service CIDR %s: not a valid network", cidr)
	}
	addr = addr.Unmap()
	if addr.BitLen() != bits {
		return nil, fmt.Errorf("service CIDR %s: mask does not match the address family", cidr)
	}
	prefix := netip.PrefixFrom(addr, ones).Masked()
	a := &IPAllocator{prefix: prefix, family: corev1.IPv4Protocol}
	hostBits := uint(bits - ones)
	switch {
	case addr.Is4() && hostBits < 2:
		return nil, fmt.Errorf("service CIDR %s: too small, use /30 or larger", prefix)
	case addr.Is4():
		a.last = 1<<hostBits - 2 // minus the network and broadcast addresses
	case hostBits > 64:
		// Like upstream: offsets must fit in 64 bits.
		return nil, fmt.Errorf("service CIDR %s: too large, the shortest IPv6 prefix allowed is /64", prefix)
	case hostBits < 2:
		return nil, fmt.Errorf("service CIDR %s: too small, use /126 or larger", prefix)
	default:
		a.family = corev1.IPv6Protocol
		a.last = ^uint64(0) >> (64 - hostBits) // IPv6 has no broadcast address
	}
	a.static = staticBandSize(a.last, 16, 256, 16)
	a.cidr = &net.IPNet{IP: prefix.Addr().AsSlice(), Mask: net.CIDRMask(ones, bits)}
	store, err := newKeyStore(client, keyRoot, ipKeyDir)
	if err != nil {
		return nil, err
	}
	a.store = store
	return a, nil
}

// CIDR returns (a copy of) the range this allocator hands out from.
func (a *IPAllocator) CIDR() *net.IPNet {
	return &net.IPNet{IP: append(net.IP(nil), a.cidr.IP...), Mask: append(net.IPMask(nil), a.cidr.Mask...)}
}

// Family is IPv4 or IPv6.
func (a *IPAllocator) Family() corev1.IPFamily { return a.family }

// Allocate reserves ip for owner ("namespace/name" of the Service). It fails
// with ErrNotInRange or ErrAllocated (see AllocationError). The first address
// (10.32.0.1) is only ever handed out this way: the apiserver asks for it by
// name for the `kubernetes` Service in `default`.
func (a *IPAllocator) Allocate(ctx context.Context, ip net.IP, owner string) error {
	addr, ok := a.addrOf(ip)
	if !ok {
		return &AllocationError{What: "IP", Value: ip.String(), Range: a.prefix.String(), Err: ErrNotInRange}
	}
	if owner == "" {
		return fmt.Errorf("allocate IP %s: owner is empty", addr)
	}
	created, err := a.store.create(ctx, addr.String(), owner)
	if err != nil {
		return err
	}
	if !created {
		return &AllocationError{What: "IP", Value: addr.String(), Range: a.prefix.String(), Err: ErrAllocated}
	}
	return nil
}

// AllocateNext reserves some free IP for owner and returns it, or fails with
// ErrFull. It never picks the first address (kept for the kubernetes
// Service), and tries the upper part of the range before the static band at
// the bottom (see staticBandSize).
func (a *IPAllocator) AllocateNext(ctx context.Context, owner string) (net.IP, error) {
	if owner == "" {
		return nil, errors.New("allocate next IP: owner is empty")
	}
	taken, err := a.store.names(ctx)
	if err != nil {
		return nil, err
	}
	bands := []band{{lo: 2, hi: a.last}}
	if a.static > 0 {
		bands = []band{{lo: a.static + 1, hi: a.last}, {lo: 2, hi: a.static}}
	}
	off, err := scan(bands,
		func(off uint64) bool { return taken[a.addrAt(off).String()] },
		func(off uint64) (bool, error) { return a.store.create(ctx, a.addrAt(off).String(), owner) })
	if errors.Is(err, ErrFull) {
		return nil, &AllocationError{What: "IP", Range: a.prefix.String(), Err: ErrFull}
	}
	if err != nil {
		return nil, err
	}
	return a.addrAt(off).AsSlice(), nil
}

// Release frees ip. Releasing a free IP, or one outside the range, does
// nothing and is not an error (like upstream).
func (a *IPAllocator) Release(ctx context.Context, ip net.IP) error {
	addr, ok := a.addrOf(ip)
	if !ok {
		return nil
	}
	return a.store.delete(ctx, addr.String())
}

// releaseOwned frees ip only if owner still holds it (see keyStore.deleteOwned).
func (a *IPAllocator) releaseOwned(ctx context.Context, ip net.IP, owner string) error {
	addr, ok := a.addrOf(ip)
	if !ok {
		return nil
	}
	_, err := a.store.deleteOwned(ctx, addr.String(), owner)
	return err
}

// Owner says who holds ip ("namespace/name"), or "" when it is free.
func (a *IPAllocator) Owner(ctx context.Context, ip net.IP) (string, error) {
	addr, ok := a.addrOf(ip)
	if !ok {
		return "", &AllocationError{What: "IP", Value: ip.String(), Range: a.prefix.String(), Err: ErrNotInRange}
	}
	e, found, err := a.store.get(ctx, addr.String())
	if err != nil || !found {
		return "", err
	}
	return e.owner(), nil
}

// Contains reports whether ip is one this allocator could hand out.
func (a *IPAllocator) Contains(ip net.IP) bool {
	_, ok := a.addrOf(ip)
	return ok
}

// addrOf converts ip and checks it is allocatable: inside the prefix and
// neither the network address nor the IPv4 broadcast address.
func (a *IPAllocator) addrOf(ip net.IP) (netip.Addr, bool) {
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}, false
	}
	addr = addr.Unmap()
	if !a.prefix.Contains(addr) {
		return netip.Addr{}, false
	}
	off := a.offsetOf(addr)
	return addr, off >= 1 && off <= a.last
}

// offsetOf and addrAt convert between addresses and offsets. An IPv6 prefix
// is at least /64, so the offset only ever touches the low 64 bits.
func (a *IPAllocator) offsetOf(addr netip.Addr) uint64 {
	if a.family == corev1.IPv4Protocol {
		return uint64(u32(addr) - u32(a.prefix.Addr()))
	}
	return low64(addr) - low64(a.prefix.Addr())
}

func (a *IPAllocator) addrAt(off uint64) netip.Addr {
	if a.family == corev1.IPv4Protocol {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], u32(a.prefix.Addr())+uint32(off))
		return netip.AddrFrom4(b)
	}
	b := a.prefix.Addr().As16()
	binary.BigEndian.PutUint64(b[8:], low64(a.prefix.Addr())+off)
	return netip.AddrFrom16(b)
}

func u32(addr netip.Addr) uint32 {
	b := addr.As4()
	return binary.BigEndian.Uint32(b[:])
}

func low64(addr netip.Addr) uint64 {
	b := addr.As16()
	return binary.BigEndian.Uint64(b[8:])
}
