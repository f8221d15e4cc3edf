package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Manager owns one node's pod network. It acts on the network namespace
// that was current for the goroutine calling New (the node's), through a
// netlink handle bound to it, so later calls may come from any goroutine.
// Methods are safe for concurrent use; they run one at a time.
type Manager struct {
	mu   sync.Mutex
	s    settings
	ns   netns.NsHandle  // the node's network namespace
	nl   *netlink.Handle // netlink sockets opened inside ns
	ipam *pool
}

// New validates cfg, loads the saved IPAM state and binds to the calling
// thread's network namespace. It changes nothing in the kernel.
func New(cfg Config) (*Manager, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	p, err := openPool(s.statePath(), s.cidrs)
	if err != nil {
		return nil, err
	}
	// netns.Get reads the calling thread's namespace. Lock so the read and
	// the socket creation happen on the same thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("node %s: current network namespace: %w", s.NodeName, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("node %s: netlink handle: %w", s.NodeName, err)
	}
	return &Manager{s: s, ns: ns, nl: h, ipam: p}, nil
}

// Close releases the namespace reference and netlink sockets. The network
// itself stays (see Teardown).
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nl.Close()
	return m.ns.Close()
}

// Setup creates (or repairs) the bridge with the gateway address of each pod
// CIDR, turns on forwarding, and in vxlan mode creates the VXLAN device.
// It is idempotent.
func (m *Manager) Setup() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.sysctls(); err != nil {
		return err
	}
	if m.s.Mode == ModeRoutes {
		for _, c := range m.s.cidrs {
			if c.Addr().Is4() != m.s.nodeIP.Is4() {
				m.s.Logger.Warn("routes mode cannot route this pod CIDR between nodes: its family differs from the node IP's; use vxlan for dual-stack",
					"node", m.s.NodeName, "podCIDR", c, "nodeIP", m.s.nodeIP)
			}
		}
	}
	if err := m.ensureBridge(); err != nil {
		return err
	}
	if m.s.Mode == ModeVXLAN {
		return m.ensureVXLAN()
	}
	// Switched away from vxlan: the old device would only black-hole traffic.
	return m.deleteLink(m.s.vxlanDev)
}

// Allocated lists the addresses IPAM holds per pod UID, so the kubelet can
// Detach pods that no longer exist after a restart.
func (m *Manager) Allocated() map[string][]net.IP {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]net.IP{}
	for uid, addrs := range m.ipam.allocated() {
		for _, a := range addrs {
			out[uid] = append(out[uid], net.IP(a.AsSlice()))
		}
	}
	return out
}

// Teardown removes everything this node's Manager created: pod veths it
// knows of, peer routes, the VXLAN device, the bridge, and the IPAM state.
// Sysctls are left as they are (they die with the namespace). Idempotent.
func (m *Manager) Teardown() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for uid := range m.ipam.allocated() {
		errs = append(errs, m.deleteLink(hostVethName(uid)))
	}
	routes, err := m.ownRoutes()
	errs = append(errs, err)
	for _, r := range routes {
		if err := m.nl.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("delete route %s: %w", r.Dst, err))
		}
	}
	errs = append(errs, m.deleteLink(m.s.vxlanDev), m.deleteLink(m.s.BridgeName), m.ipam.remove())
	return errors.Join(errs...)
}

// ensureBridge makes the bridge exist, carry exactly the gateway addresses
// of the pod CIDRs, and be up.
func (m *Manager) ensureBridge() error {
	name := m.s.BridgeName
	gw := gatewayAddr(m.s.cidrs[0])
	link, err := m.nl.LinkByName(name)
	if isNotFound(err) {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: m.s.podMTU, HardwareAddr: bridgeMAC(gw)}}
		if err := m.nl.LinkAdd(br); err != nil {
			return fmt.Errorf("create bridge %s: %w", name, err)
		}
		link, err = m.nl.LinkByName(name)
	}
	if err != nil {
		return fmt.Errorf("bridge %s: %w", name, err)
	}
	if link.Type() != "bridge" {
		return fmt.Errorf("bridge %s: exists as a %s", name, link.Type())
	}
	// No duplicate address detection on the bridge. Until DAD of its IPv6
	// link-local address finishes (a second or more after the first pod
	// port brings the bridge's carrier up) the kernel sends no neighbour
	// solicitations from it, so the first IPv6 packet forwarded to a pod
	// stalls for seconds. Set before "up", when the link-local is made.
	dad := sysctl{path: "net/ipv6/conf/" + name + "/accept_dad", value: "0", optional: true}
	if err := m.writeSysctls([]sysctl{dad}); err != nil {
		return err
	}
	var want []netip.Prefix
	for _, c := range m.s.cidrs {
		want = append(want, netip.PrefixFrom(gatewayAddr(c), c.Bits()))
	}
	if err := m.syncAddrs(link, want); err != nil {
		return err
	}
	if err := m.nl.LinkSetUp(link); err != nil {
		return fmt.Errorf("bridge %s up: %w", name, err)
	}
	return nil
}

// syncAddrs makes want the only global addresses on link (link-local IPv6
// addresses stay). IPv6 addresses skip duplicate address detection: they are
// ours by construction, and DAD would leave them unusable for a second.
func (m *Manager) syncAddrs(link netlink.Link, want []netip.Prefix) error {
	have, err := m.nl.AddrList(link, netlink.FAMILY_ALL)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("list addresses of %s: %w", link.Attrs().Name, err)
	}
	var cur []netip.Prefix
	for _, a := range have {
		ip, _ := toAddr(a.IP)
		if ip.IsLinkLocalUnicast() {
			continue
		}
		ones, _ := a.Mask.Size()
		cur = append(cur, netip.PrefixFrom(ip, ones))
	}
	add, del := diff(want, cur)
	for _, p := range del {
		if err := m.nl.AddrDel(link, &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}); err != nil {
			return fmt.Errorf("remove stale address %s from %s: %w", p, link.Attrs().Name, err)
		}
	}
	for _, p := range add {
		if err := m.nl.AddrReplace(link, nlAddr(p)); err != nil {
			return fmt.Errorf("add address %s to %s: %w", p, link.Attrs().Name, err)
		}
	}
	return nil
}

// nlAddr is p as a netlink address, with IPv6 DAD turned off.
func nlAddr(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

// deleteLink deletes a link by name; a missing link is fine.
func (m *Manager) deleteLink(name string) error {
	link, err := m.nl.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find link %s: %w", name, err)
	}
	if err := m.nl.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}
