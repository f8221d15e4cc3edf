package cluster

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// The node network of a network-namespace cluster, what the hard way
// builds with VMs on one virtual switch:
//
//	host: bridge kl-<cluster> 10.240.0.1/24 (gateway; the API server listens here)
//	        |-- kv-<cluster>-0 ==veth== eth0 10.240.0.20/24 in netns kubelab-<cluster>-node-0
//	        |-- kv-<cluster>-1 ==veth== eth0 10.240.0.21/24 in netns kubelab-<cluster>-node-1
//
// The host gets the bridge address and nothing else: no routes, no NAT, so
// nodes reach the host and each other but never the outside world.

// netnsDir is where named network namespaces are pinned (`ip netns`'s
// convention, so `ip netns exec kubelab-kubelab-node-0 ip addr` works).
const netnsDir = "/var/run/netns"

// netnsPath is the pinned file of a named namespace.
func netnsPath(name string) string { return filepath.Join(netnsDir, name) }

// ensureBridge creates the host bridge with the host's address on it and
// brings it up; an existing bridge is reused.
func ensureBridge(name string, addr *net.IPNet) error {
	br, err := netlink.LinkByName(name)
	if err != nil {
		if !errors.As(err, &netlink.LinkNotFoundError{}) {
			return fmt.Errorf("look up bridge %s: %w", name, err)
		}
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
			return fmt.Errorf("create bridge %s: %w", name, err)
		}
		if br, err = netlink.LinkByName(name); err != nil {
			return fmt.Errorf("look up bridge %s: %w", name, err)
		}
	}
	if err := netlink.AddrReplace(br, &netlink.Addr{IPNet: addr}); err != nil {
		return fmt.Errorf("add %s to bridge %s: %w", addr, name, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return fmt.Errorf("bring bridge %s up: %w", name, err)
	}
	return nil
}

// subnetInUse reports a host interface that already has an address in
// subnet: another cluster's bridge, most likely. Two bridges with the
// same subnet would split the host's routing between them.
func subnetInUse(subnet *net.IPNet) (string, bool) {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return "", false
	}
	for _, a := range addrs {
		if subnet.Contains(a.IP) || a.Contains(subnet.IP) {
			name := fmt.Sprintf("index %d", a.LinkIndex)
			if l, err := netlink.LinkByIndex(a.LinkIndex); err == nil {
				name = l.Attrs().Name
			}
			return fmt.Sprintf("%s on %s", a.IPNet, name), true
		}
	}
	return "", false
}

// createNetns creates and pins a named network namespace, like
// `ip netns add`. netns.NewNamed moves the calling thread into the new
// namespace, so it runs on a locked thread that moves back afterwards (or,
// if it cannot, dies with its goroutine instead of serving other code).
func createNetns(name string) error {
	if _, err := os.Stat(netnsPath(name)); err == nil {
		return fmt.Errorf("network namespace %s already exists (left over from an earlier cluster? run kubelab cluster delete)", name)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("current network namespace: %w", err)
			return // the thread may be odd: keep it locked, it dies with us
		}
		defer orig.Close()
		ns, err := netns.NewNamed(name)
		if err != nil {
			if setErr := netns.Set(orig); setErr == nil {
				runtime.UnlockOSThread()
			}
			errc <- fmt.Errorf("create network namespace %s: %w", name, err)
			return
		}
		ns.Close()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("return from network namespace %s: %w", name, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	return <-errc
}

// wireNode connects a node namespace to the bridge: a veth pair whose host
// end joins the bridge and whose other end is the node's eth0 with its
// address, loopback up, and a default route via the host.
func wireNode(bridge, hostVeth, ns string, addr *net.IPNet, gateway net.IP) error {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("look up bridge %s: %w", bridge, err)
	}
	nsh, err := netns.GetFromPath(netnsPath(ns))
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", ns, err)
	}
	defer nsh.Close()
	// One call creates both ends, the peer directly inside the node's
	// namespace, so it never clashes with the host's own eth0.
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: hostVeth, MasterIndex: br.Attrs().Index},
		PeerName:  "eth0", PeerNamespace: netlink.NsFd(nsh),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s for %s: %w", hostVeth, ns, err)
	}
	host, err := netlink.LinkByName(hostVeth)
	if err != nil {
		return fmt.Errorf("look up %s: %w", hostVeth, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("bring %s up: %w", hostVeth, err)
	}

	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", ns, err)
	}
	defer h.Close()
	for _, name := range []string{"lo", "eth0"} {
		l, err := h.LinkByName(name)
		if err != nil {
			return fmt.Errorf("%s in %s: %w", name, ns, err)
		}
		if name == "eth0" {
			if err := h.AddrAdd(l, &netlink.Addr{IPNet: addr}); err != nil {
				return fmt.Errorf("add %s to eth0 in %s: %w", addr, ns, err)
			}
		}
		if err := h.LinkSetUp(l); err != nil {
			return fmt.Errorf("bring %s up in %s: %w", name, ns, err)
		}
	}
	route := &netlink.Route{Gw: gateway}
	if err := h.RouteAdd(route); err != nil {
		return fmt.Errorf("default route via %s in %s: %w", gateway, ns, err)
	}
	return nil
}

// deleteNetns unpins a named namespace (unmount, then remove the file).
// The kernel frees the namespace, and the veth ends inside it, once no
// process and no mount holds it. A missing namespace is not an error.
func deleteNetns(name string) (bool, error) {
	p := netnsPath(name)
	if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	// Not mounted (a half-made namespace): only the file is left.
	_ = netns.DeleteNamed(name)
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return true, fmt.Errorf("remove network namespace %s: %w", name, err)
	}
	return true, nil
}

// deleteLink removes a host interface; a missing one is not an error.
func deleteLink(name string) (bool, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		if errors.As(err, &netlink.LinkNotFoundError{}) {
			return false, nil
		}
		return false, fmt.Errorf("look up %s: %w", name, err)
	}
	if err := netlink.LinkDel(l); err != nil {
		return false, fmt.Errorf("delete %s: %w", name, err)
	}
	return true, nil
}

// listNetns lists the pinned namespaces whose names match pattern.
func listNetns(match func(string) bool) []string {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if match(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}
