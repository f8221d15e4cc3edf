package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// ensureVXLAN creates the overlay device the flannel way:
//
//	kubelab.1  vni 1, local <NodeIP>, dstport 4789, nolearning,
//	           MAC 0e:6b:<NodeIP>, address <pod CIDR network address>/32
//
// Learning is off because every remote MAC is programmed by SyncPeers; the
// address (10.200.1.0/32) is the source of packets the node itself sends
// into the overlay, and the "gateway" peers route our pod CIDR through.
// A device with different parameters is replaced.
func (m *Manager) ensureVXLAN() error {
	name := m.s.vxlanDev
	want := &netlink.Vxlan{
		LinkAttrs: netlink.LinkAttrs{Name: name, MTU: m.s.podMTU, HardwareAddr: vtepMAC(m.s.nodeIP)},
		VxlanId:   m.s.VXLANID,
		SrcAddr:   net.IP(m.s.nodeIP.AsSlice()),
		Port:      vxlanPort,
		Learning:  false,
	}
	if idx, err := m.linkWithAddr(m.s.nodeIP); err == nil {
		want.VtepDevIndex = idx
	} else {
		m.s.Logger.Warn("no link holds the node IP; vxlan device not bound to one", "node", m.s.NodeName, "ip", m.s.nodeIP, "err", err)
	}
	link, err := m.nl.LinkByName(name)
	switch {
	case err == nil:
		if !sameVXLAN(link, want) {
			m.s.Logger.Info("replacing vxlan device with different settings", "node", m.s.NodeName, "device", name)
			if err := m.nl.LinkDel(link); err != nil {
				return fmt.Errorf("delete vxlan device %s: %w", name, err)
			}
			link = nil
		}
	case !isNotFound(err):
		return fmt.Errorf("vxlan device %s: %w", name, err)
	}
	if link == nil {
		if err := m.nl.LinkAdd(want); err != nil {
			return fmt.Errorf("create vxlan device %s: %w", name, err)
		}
		if link, err = m.nl.LinkByName(name); err != nil {
			return fmt.Errorf("vxlan device %s: %w", name, err)
		}
	}
	var addrs []netip.Prefix
	for _, c := range m.s.cidrs {
		a := networkAddr(c)
		addrs = append(addrs, netip.PrefixFrom(a, a.BitLen()))
	}
	if err := m.syncAddrs(link, addrs); err != nil {
		return err
	}
	if err := m.nl.LinkSetUp(link); err != nil {
		return fmt.Errorf("vxlan device %s up: %w", name, err)
	}
	return nil
}

// sameVXLAN says whether an existing link is the device we would create.
func sameVXLAN(link netlink.Link, want *netlink.Vxlan) bool {
	v, ok := link.(*netlink.Vxlan)
	return ok && v.VxlanId == want.VxlanId && v.SrcAddr.Equal(want.SrcAddr) && v.Port == want.Port &&
		!v.Learning && v.HardwareAddr.String() == want.HardwareAddr.String() && v.MTU == want.MTU
}

// linkWithAddr finds the index of the link that holds a.
func (m *Manager) linkWithAddr(a netip.Addr) (int, error) {
	addrs, err := m.nl.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return 0, fmt.Errorf("list addresses: %w", err)
	}
	for _, x := range addrs {
		if got, _ := toAddr(x.IP); got == a {
			return x.LinkIndex, nil
		}
	}
	return 0, fmt.Errorf("address %s: not on any link", a)
}
