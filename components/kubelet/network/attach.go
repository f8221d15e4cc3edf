package network

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Result is what a pod got: its addresses (with the pod CIDR's mask), the
// gateways its default routes use, and its interface MTU.
type Result struct {
	IPs     []net.IPNet
	Gateway []net.IP
	MTU     int
}

// hostVethName is the node-side end of a pod's veth pair: "veth" + 8 hex
// digits of sha256(podUID). Deterministic, so Detach and Teardown find it
// from the UID alone, even after a kubelet restart.
func hostVethName(podUID string) string {
	sum := sha256.Sum256([]byte(podUID))
	return "veth" + hex.EncodeToString(sum[:4])
}

// Attach connects the pod network namespace at netnsPath to the node:
//
//	IPAM address per pod CIDR (the same ones again for a known podUID)
//	veth pair: host end vethXXXXXXXX on the bridge (hairpin on, so a pod
//	can reach itself through a Service), pod end ifName ("eth0")
//	in the pod: lo up, addresses, default routes via the bridge gateways
//
// Attach is idempotent: calling it again for an attached pod repairs and
// returns the same result.
func (m *Manager) Attach(podUID, netnsPath, ifName string) (Result, error) {
	if ifName == "" {
		ifName = "eth0"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	before := m.ipam.cursor()
	addrs, fresh, err := m.ipam.allocate(podUID)
	if err != nil {
		return Result{}, fmt.Errorf("pod %s: %w", podUID, err)
	}
	res := m.result(addrs)
	if err := m.attach(podUID, netnsPath, ifName, addrs); err != nil {
		if fresh {
			if rerr := m.ipam.rewind(podUID, before); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		return Result{}, fmt.Errorf("pod %s: %w", podUID, err)
	}
	m.s.Logger.Debug("pod attached", "node", m.s.NodeName, "pod", podUID, "veth", hostVethName(podUID), "ips", addrs)
	return res, nil
}

func (m *Manager) result(addrs []netip.Addr) Result {
	res := Result{MTU: m.s.podMTU}
	for i, c := range m.s.cidrs {
		res.IPs = append(res.IPs, ipNet(addrs[i], c))
		res.Gateway = append(res.Gateway, net.IP(gatewayAddr(c).AsSlice()))
	}
	return res
}

func (m *Manager) attach(podUID, netnsPath, ifName string, addrs []netip.Addr) error {
	podNS, err := netns.GetFromPath(netnsPath)
	if err != nil {
		return fmt.Errorf("open pod netns %s: %w", netnsPath, err)
	}
	defer podNS.Close()
	pod, err := netlink.NewHandleAt(podNS)
	if err != nil {
		return fmt.Errorf("netlink in pod netns %s: %w", netnsPath, err)
	}
	defer pod.Close()
	br, err := m.nl.LinkByName(m.s.BridgeName)
	if err != nil {
		return fmt.Errorf("bridge %s (was Setup called?): %w", m.s.BridgeName, err)
	}

	host, created, err := m.ensureVeth(pod, podNS, hostVethName(podUID), ifName)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		if created {
			m.nl.LinkDel(host) // takes the pod end with it
		}
		return err
	}
	name := host.Attrs().Name
	if err := m.nl.LinkSetMaster(host, br); err != nil {
		return fail(fmt.Errorf("attach %s to %s: %w", name, m.s.BridgeName, err))
	}
	// Hairpin: the bridge may send a frame back out of the port it came in
	// on. Needed when a pod talks to a Service that DNATs back to itself.
	if err := m.nl.LinkSetHairpin(host, true); err != nil {
		return fail(fmt.Errorf("hairpin on %s: %w", name, err))
	}
	if err := m.nl.LinkSetUp(host); err != nil {
		return fail(fmt.Errorf("%s up: %w", name, err))
	}
	if err := m.configurePod(pod, ifName, addrs); err != nil {
		return fail(fmt.Errorf("configure %s in %s: %w", ifName, netnsPath, err))
	}
	return nil
}

// ensureVeth returns the host end of the pod's veth pair, creating the pair
// unless it already joins this node to ifName in this pod netns. A host end
// whose peer is elsewhere (an earlier sandbox of the same pod) is replaced.
func (m *Manager) ensureVeth(pod *netlink.Handle, podNS netns.NsHandle, hostName, ifName string) (netlink.Link, bool, error) {
	host, err := m.nl.LinkByName(hostName)
	switch {
	case err == nil:
		peer, perr := pod.LinkByName(ifName)
		if perr == nil && peer.Attrs().ParentIndex == host.Attrs().Index {
			return host, false, nil
		}
		if err := m.nl.LinkDel(host); err != nil {
			return nil, false, fmt.Errorf("delete stale veth %s: %w", hostName, err)
		}
	case !isNotFound(err):
		return nil, false, fmt.Errorf("find veth %s: %w", hostName, err)
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: hostName, MTU: m.s.podMTU},
		PeerName:      ifName,
		PeerMTU:       uint32(m.s.podMTU),
		PeerNamespace: netlink.NsFd(int(podNS)),
	}
	if err := m.nl.LinkAdd(veth); err != nil {
		return nil, false, fmt.Errorf("create veth %s<->%s: %w", hostName, ifName, err)
	}
	host, err = m.nl.LinkByName(hostName)
	if err != nil {
		return nil, false, fmt.Errorf("find new veth %s: %w", hostName, err)
	}
	return host, true, nil
}

// configurePod sets up the pod side, through a handle bound to the pod netns.
func (m *Manager) configurePod(pod *netlink.Handle, ifName string, addrs []netip.Addr) error {
	lo, err := pod.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo: %w", err)
	}
	if err := pod.LinkSetUp(lo); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	eth, err := pod.LinkByName(ifName)
	if err != nil {
		return fmt.Errorf("find %s: %w", ifName, err)
	}
	for i, c := range m.s.cidrs {
		if err := pod.AddrReplace(eth, nlAddr(netip.PrefixFrom(addrs[i], c.Bits()))); err != nil {
			return fmt.Errorf("address %s: %w", addrs[i], err)
		}
	}
	if err := pod.LinkSetUp(eth); err != nil {
		return fmt.Errorf("%s up: %w", ifName, err)
	}
	for _, c := range m.s.cidrs {
		def := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if c.Addr().Is6() {
			def = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		r := &netlink.Route{LinkIndex: eth.Attrs().Index, Dst: prefixNet(def), Gw: net.IP(gatewayAddr(c).AsSlice())}
		if err := pod.RouteReplace(r); err != nil {
			return fmt.Errorf("default route via %s: %w", gatewayAddr(c), err)
		}
	}
	return nil
}

// Detach deletes the pod's veth pair (deleting the host end removes the pod
// end too, and if the pod netns is already gone so is the pair) and releases
// its addresses. netnsPath is not needed to find the pair; it is accepted
// for symmetry with Attach (and CNI DEL). Idempotent.
func (m *Manager) Detach(podUID, netnsPath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := m.deleteLink(hostVethName(podUID))
	if err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("pod %s: %w", podUID, err)
	}
	if err := m.ipam.release(podUID); err != nil {
		return fmt.Errorf("pod %s: %w", podUID, err)
	}
	return nil
}
