package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// SyncPeers makes this node reach every other node's pod CIDRs and forgets
// nodes that are gone. peers may include this node; it is skipped. Peers
// with bad data are skipped and reported in the returned error after the
// good ones are programmed.
func (m *Manager) SyncPeers(peers []Peer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	plan, planErr := planPeers(m.s.Mode, m.s.NodeName, m.s.nodeIP, m.s.cidrs, peers)
	if len(plan.skipped) > 0 {
		m.s.Logger.Debug("peer pod CIDRs not routable in routes mode (node IP of the other family)", "node", m.s.NodeName, "skipped", plan.skipped)
	}
	var vx netlink.Link
	if m.s.Mode == ModeVXLAN {
		var err error
		if vx, err = m.nl.LinkByName(m.s.vxlanDev); err != nil {
			return fmt.Errorf("vxlan device %s (was Setup called?): %w", m.s.vxlanDev, err)
		}
	}
	// Routes go last on the way in (the neighbour and FDB entries they need
	// are already there) and first on the way out.
	if err := m.syncRoutes(plan.routes, vx, true); err != nil {
		return err
	}
	if vx != nil {
		if err := m.syncFDB(vx, plan.fdbs); err != nil {
			return err
		}
		if err := m.syncNeighs(vx, plan.neighs); err != nil {
			return err
		}
	}
	if err := m.syncRoutes(plan.routes, vx, false); err != nil {
		return err
	}
	if planErr != nil {
		return fmt.Errorf("sync peers: %w", planErr)
	}
	return nil
}

// ownRoutes lists the routes tagged with routeProtocol.
func (m *Manager) ownRoutes() ([]netlink.Route, error) {
	rs, err := m.nl.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Protocol: routeProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	return rs, nil
}

// syncRoutes deletes stale routes (deleting) or adds missing ones (!deleting).
func (m *Manager) syncRoutes(want []routeSpec, vx netlink.Link, deleting bool) error {
	have, err := m.ownRoutes()
	if err != nil {
		return err
	}
	cur := make([]routeSpec, 0, len(have))
	byKey := map[routeSpec]netlink.Route{}
	for _, r := range have {
		k := routeKey(r)
		cur = append(cur, k)
		byKey[k] = r
	}
	add, del := diff(want, cur)
	if deleting {
		for _, k := range del {
			r := byKey[k]
			if err := m.nl.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("delete route %s via %s: %w", k.Dst, k.Gw, err)
			}
		}
		return nil
	}
	for _, k := range add {
		r, err := m.nlRoute(k, vx)
		if err != nil {
			return err
		}
		if err := m.nl.RouteReplace(r); err != nil {
			return fmt.Errorf("route %s via %s: %w", k.Dst, k.Gw, err)
		}
	}
	return nil
}

// routeKey reads a kernel route back into the form planPeers produces.
func routeKey(r netlink.Route) routeSpec {
	var k routeSpec
	if r.Dst != nil {
		ones, _ := r.Dst.Mask.Size()
		a, _ := toAddr(r.Dst.IP)
		k.Dst = netip.PrefixFrom(a, ones)
	}
	k.Gw, _ = toAddr(r.Gw)
	k.OnLink = r.Flags&int(netlink.FLAG_ONLINK) != 0
	return k
}

// nlRoute builds the kernel route for k.
func (m *Manager) nlRoute(k routeSpec, vx netlink.Link) (*netlink.Route, error) {
	r := &netlink.Route{Dst: prefixNet(k.Dst), Protocol: routeProtocol}
	gw := net.IP(k.Gw.AsSlice())
	switch {
	case k.OnLink:
		if vx == nil {
			return nil, fmt.Errorf("route %s: onlink route without a vxlan device", k.Dst)
		}
		r.LinkIndex = vx.Attrs().Index
		r.Gw = gw
		r.Flags = int(netlink.FLAG_ONLINK)
	default:
		r.Gw = gw
	}
	return r, nil
}

// syncNeighs keeps one permanent neighbour entry per peer VTEP address.
func (m *Manager) syncNeighs(vx netlink.Link, want []neighSpec) error {
	var cur []neighSpec
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		ns, err := m.nl.NeighList(vx.Attrs().Index, fam)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return fmt.Errorf("list neighbours on %s: %w", m.s.vxlanDev, err)
		}
		for _, n := range ns {
			if n.State&netlink.NUD_PERMANENT == 0 {
				continue
			}
			a, _ := toAddr(n.IP)
			cur = append(cur, neighSpec{IP: a, MAC: n.HardwareAddr.String()})
		}
	}
	add, del := diff(want, cur)
	for _, n := range del {
		nn := m.nlNeigh(vx, n)
		if err := m.nl.NeighDel(nn); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("delete neighbour %s on %s: %w", n.IP, m.s.vxlanDev, err)
		}
	}
	for _, n := range add {
		if err := m.nl.NeighSet(m.nlNeigh(vx, n)); err != nil {
			return fmt.Errorf("neighbour %s -> %s on %s: %w", n.IP, n.MAC, m.s.vxlanDev, err)
		}
	}
	return nil
}

func (m *Manager) nlNeigh(vx netlink.Link, n neighSpec) *netlink.Neigh {
	mac, _ := net.ParseMAC(n.MAC)
	fam := netlink.FAMILY_V4
	if n.IP.Is6() {
		fam = netlink.FAMILY_V6
	}
	return &netlink.Neigh{LinkIndex: vx.Attrs().Index, Family: fam, State: netlink.NUD_PERMANENT,
		IP: net.IP(n.IP.AsSlice()), HardwareAddr: mac}
}

// syncFDB keeps one forwarding entry per peer: its VTEP MAC lives at its
// node IP. Entries without a destination (the kernel's own) are left alone.
func (m *Manager) syncFDB(vx netlink.Link, want []fdbSpec) error {
	ns, err := m.nl.NeighList(vx.Attrs().Index, unix.AF_BRIDGE)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("list fdb on %s: %w", m.s.vxlanDev, err)
	}
	var cur []fdbSpec
	for _, n := range ns {
		if len(n.IP) == 0 || n.State&netlink.NUD_PERMANENT == 0 {
			continue
		}
		a, _ := toAddr(n.IP)
		cur = append(cur, fdbSpec{MAC: n.HardwareAddr.String(), Dst: a})
	}
	add, del := diff(want, cur)
	for _, f := range del {
		if err := m.nl.NeighDel(m.nlFDB(vx, f)); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("delete fdb %s on %s: %w", f.MAC, m.s.vxlanDev, err)
		}
	}
	for _, f := range add {
		if err := m.nl.NeighSet(m.nlFDB(vx, f)); err != nil {
			return fmt.Errorf("fdb %s -> %s on %s: %w", f.MAC, f.Dst, m.s.vxlanDev, err)
		}
	}
	return nil
}

func (m *Manager) nlFDB(vx netlink.Link, f fdbSpec) *netlink.Neigh {
	mac, _ := net.ParseMAC(f.MAC)
	return &netlink.Neigh{LinkIndex: vx.Attrs().Index, Family: unix.AF_BRIDGE, Flags: netlink.NTF_SELF,
		State: netlink.NUD_PERMANENT, IP: net.IP(f.Dst.AsSlice()), HardwareAddr: mac}
}
