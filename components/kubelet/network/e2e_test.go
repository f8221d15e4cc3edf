package network

import (
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// End-to-end: two "nodes" (network namespaces joined by a veth pair, node
// IPs 10.240.0.21 and .22), a Manager running inside each, pods as further
// namespaces, and real TCP over IPv4 and IPv6 between them.

type testNode struct {
	name string
	ip   string
	ns   *testNS
	m    *Manager
	cfg  Config
}

func startNode(t *testing.T, name, ip, mode, stateRoot string, cidrs ...string) *testNode {
	t.Helper()
	n := &testNode{name: name, ip: ip, ns: newTestNS(t, name)}
	n.cfg = Config{NodeName: name, PodCIDRs: cidrs, NodeIP: net.ParseIP(ip), Mode: mode,
		StateDir: filepath.Join(stateRoot, name), Logger: slog.New(slog.DiscardHandler)}
	return n
}

// run creates the Manager (inside the node namespace, as the kubelet would).
func (n *testNode) run(t *testing.T) {
	t.Helper()
	err := n.ns.in(func() (err error) { n.m, err = New(n.cfg); return err })
	if err != nil {
		t.Fatalf("%s: New: %v", n.name, err)
	}
	m := n.m
	t.Cleanup(func() { m.Close() })
}

func (n *testNode) do(t *testing.T, what string, fn func() error) {
	t.Helper()
	if err := n.ns.in(fn); err != nil {
		t.Fatalf("%s: %s: %v", n.name, what, err)
	}
}

func (n *testNode) attach(t *testing.T, pod *testNS) Result {
	t.Helper()
	var res Result
	n.do(t, "attach "+pod.name, func() (err error) { res, err = n.m.Attach(pod.name, pod.path, "eth0"); return err })
	return res
}

func (n *testNode) peer() Peer {
	return Peer{Name: n.name, IP: net.ParseIP(n.ip), PodCIDRs: n.cfg.PodCIDRs}
}

func ipsOf(r Result) []string {
	var s []string
	for _, ip := range r.IPs {
		s = append(s, ip.String())
	}
	return s
}

func hostPort(ipn net.IPNet) string { return net.JoinHostPort(ipn.IP.String(), "8080") }

func expectEcho(t *testing.T, from *testNS, to net.IPNet, server string) {
	t.Helper()
	start := time.Now()
	defer func() { t.Logf("%s -> %s took %v", from.name, to.IP, time.Since(start)) }()
	got, err := dial(from, hostPort(to))
	if err != nil {
		t.Errorf("%s -> %s: %v", from.name, hostPort(to), err)
		return
	}
	if want := server + ":hello\n"; got != want {
		t.Errorf("%s -> %s: got %q, want %q", from.name, hostPort(to), got, want)
	}
}

func TestPodNetworkAcrossNodes(t *testing.T) {
	requireRoot(t)
	for _, mode := range []string{ModeRoutes, ModeVXLAN} {
		t.Run(mode, func(t *testing.T) { testMode(t, mode) })
	}
}

func testMode(t *testing.T, mode string) {
	state := t.TempDir()
	short := mode[:1] // keep netns names short and distinct per mode
	n1 := startNode(t, short+"n1", "10.240.0.21", mode, state, "10.200.1.0/24", "fd00:10:200:1::/64")
	n2 := startNode(t, short+"n2", "10.240.0.22", mode, state, "10.200.2.0/24", "fd00:10:200:2::/64")
	linkNodes(t, n1.ns, n2.ns, "10.240.0.21/24", "10.240.0.22/24")
	peers := []Peer{n1.peer(), n2.peer()}
	for _, n := range []*testNode{n1, n2} {
		n.run(t)
		n.do(t, "setup", n.m.Setup)
		n.do(t, "setup again", n.m.Setup) // idempotent
		n.do(t, "sync peers", func() error { return n.m.SyncPeers(peers) })
		n.do(t, "sysctl", func() error {
			b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
			if strings.TrimSpace(string(b)) != "1" {
				t.Errorf("%s: ip_forward = %q (%v)", n.name, b, err)
			}
			return nil
		})
	}

	a1, a2, b1 := newTestNS(t, short+"a1"), newTestNS(t, short+"a2"), newTestNS(t, short+"b1")
	ra1, ra2, rb1 := n1.attach(t, a1), n1.attach(t, a2), n2.attach(t, b1)
	wantMTU := 1500
	if mode == ModeVXLAN {
		wantMTU = 1450
	}
	if got := strings.Join(ipsOf(ra1), ","); got != "10.200.1.2/24,fd00:10:200:1::2/64" {
		t.Errorf("pod a1 IPs = %s, want a dual-stack pair", got)
	}
	if ra1.Gateway[0].String() != "10.200.1.1" || ra1.Gateway[1].String() != "fd00:10:200:1::1" || ra1.MTU != wantMTU {
		t.Errorf("pod a1 result = %+v", ra1)
	}
	if again := n1.attach(t, a1); strings.Join(ipsOf(again), ",") != strings.Join(ipsOf(ra1), ",") {
		t.Errorf("second Attach gave %v, first %v", ipsOf(again), ipsOf(ra1))
	}
	checkPodSide(t, a1, ra1)
	checkHairpin(t, n1, a1.name)

	for _, s := range []struct {
		ns  *testNS
		res Result
	}{{a1, ra1}, {b1, rb1}} {
		for _, ip := range s.res.IPs {
			echoServer(t, s.ns, hostPort(ip), s.ns.name)
		}
	}
	for _, fam := range []int{0, 1} { // IPv4, IPv6
		expectEcho(t, a2, ra1.IPs[fam], a1.name) // same node, over the bridge
		// Across nodes, both ways. Routes mode has IPv4 node IPs, so only
		// IPv4 crosses (no IPv6 route via an IPv4 gateway in Linux).
		if fam == 0 || mode == ModeVXLAN {
			expectEcho(t, b1, ra1.IPs[fam], a1.name)
			expectEcho(t, a1, rb1.IPs[fam], b1.name)
			expectEcho(t, a2, rb1.IPs[fam], b1.name)
		}
	}
	if ra2.IPs[0].String() != "10.200.1.3/24" || rb1.IPs[0].String() != "10.200.2.2/24" {
		t.Errorf("pods a2, b1 got %v, %v", ipsOf(ra2), ipsOf(rb1))
	}

	// A node that leaves takes its routes with it; coming back restores them.
	n1.do(t, "sync without n2", func() error { return n1.m.SyncPeers([]Peer{n1.peer()}) })
	if rs := ownRouteCount(t, n1); rs != 0 {
		t.Errorf("%d routes left after n2 left", rs)
	}
	n1.do(t, "sync with n2", func() error { return n1.m.SyncPeers(peers) })
	expectEcho(t, a1, rb1.IPs[0], b1.name)

	// A restarted kubelet finds its allocations again.
	n1.m.Close()
	n1.run(t)
	if got := n1.m.Allocated(); len(got) != 2 || got[a1.name][0].String() != "10.200.1.2" {
		t.Errorf("Allocated after restart = %v", got)
	}
	if r := n1.attach(t, a1); r.IPs[0].String() != "10.200.1.2/24" {
		t.Errorf("re-attach after restart = %v", ipsOf(r))
	}

	// Detach: the pod loses eth0, the node its veth, the address is free.
	n1.do(t, "detach", func() error { return n1.m.Detach(a2.name, a2.path) })
	n1.do(t, "detach again", func() error { return n1.m.Detach(a2.name, a2.path) })
	if _, err := a2.handle(t).LinkByName("eth0"); err == nil {
		t.Error("pod a2 still has eth0 after Detach")
	}
	if _, ok := n1.m.Allocated()[a2.name]; ok {
		t.Error("pod a2 still allocated after Detach")
	}

	// Teardown leaves each node as it found it: lo and the uplink only.
	for _, n := range []*testNode{n1, n2} {
		n.do(t, "teardown", n.m.Teardown)
		n.do(t, "teardown again", n.m.Teardown)
		links, err := n.ns.handle(t).LinkList()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, l := range links {
			names = append(names, l.Attrs().Name)
		}
		if strings.Join(names, ",") != "lo,eth0" {
			t.Errorf("%s: links after Teardown = %v", n.name, names)
		}
		if c := ownRouteCount(t, n); c != 0 {
			t.Errorf("%s: %d routes left after Teardown", n.name, c)
		}
		if _, err := os.Stat(filepath.Join(n.cfg.StateDir, stateFile)); !os.IsNotExist(err) {
			t.Errorf("%s: IPAM state survives Teardown: %v", n.name, err)
		}
	}
}

func ownRouteCount(t *testing.T, n *testNode) int {
	t.Helper()
	rs, err := n.ns.handle(t).RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Protocol: routeProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		t.Fatal(err)
	}
	return len(rs)
}

// checkPodSide looks inside the pod: eth0 up with the addresses and MTU,
// default routes via the gateways, lo up.
func checkPodSide(t *testing.T, pod *testNS, res Result) {
	t.Helper()
	h := pod.handle(t)
	eth, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatalf("pod eth0: %v", err)
	}
	if eth.Attrs().MTU != res.MTU || eth.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("pod eth0: mtu %d flags %v", eth.Attrs().MTU, eth.Attrs().Flags)
	}
	if lo, _ := h.LinkByName("lo"); lo == nil || lo.Attrs().Flags&net.FlagUp == 0 {
		t.Error("pod lo is not up")
	}
	routes, _ := h.RouteList(eth, netlink.FAMILY_ALL)
	var gws []string
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			gws = append(gws, r.Gw.String())
		}
	}
	if strings.Join(gws, ",") != res.Gateway[0].String()+","+res.Gateway[1].String() {
		t.Errorf("pod default routes via %v, want %v", gws, res.Gateway)
	}
}

func checkHairpin(t *testing.T, n *testNode, podUID string) {
	t.Helper()
	h := n.ns.handle(t)
	l, err := h.LinkByName(hostVethName(podUID))
	if err != nil {
		t.Fatal(err)
	}
	pi, err := h.LinkGetProtinfo(l)
	if err != nil {
		t.Fatal(err)
	}
	if !pi.Hairpin {
		t.Errorf("hairpin is off on %s", l.Attrs().Name)
	}
}

// TestSingleNode covers mode none, the error paths of Attach, and a pod whose
// sandbox was recreated (same UID, new netns).
func TestSingleNode(t *testing.T) {
	requireRoot(t)
	n := startNode(t, "sn", "", ModeNone, t.TempDir(), "10.200.9.0/24")
	n.run(t)
	pod := newTestNS(t, "sp1")

	// Before Setup there is no bridge: Attach fails and keeps no address.
	err := n.ns.in(func() error { _, err := n.m.Attach("p1", pod.path, "eth0"); return err })
	if err == nil || !strings.Contains(err.Error(), "cni0") {
		t.Errorf("Attach before Setup: err = %v, want one naming the bridge", err)
	}
	if got := n.m.Allocated(); len(got) != 0 {
		t.Errorf("failed Attach left allocations %v", got)
	}
	n.do(t, "setup", n.m.Setup)
	err = n.ns.in(func() error { _, err := n.m.Attach("p1", "/nonexistent/netns", "eth0"); return err })
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/netns") {
		t.Errorf("Attach to a missing netns: err = %v", err)
	}

	r1 := n.attach(t, pod)
	if got := strings.Join(ipsOf(r1), ","); got != "10.200.9.2/24" {
		t.Errorf("first pod got %s, want 10.200.9.2/24 (failed attempts must not use up addresses)", got)
	}
	// The sandbox is recreated: same pod UID, fresh netns. Attach must move
	// the veth to the new netns and keep the address.
	pod2 := newTestNS(t, "sp1b")
	var r2 Result
	n.do(t, "re-attach", func() (err error) { r2, err = n.m.Attach(pod.name, pod2.path, "eth0"); return err })
	if ipsOf(r2)[0] != ipsOf(r1)[0] {
		t.Errorf("recreated sandbox got %v, want %v", ipsOf(r2), ipsOf(r1))
	}
	if _, err := pod.handle(t).LinkByName("eth0"); err == nil {
		t.Error("old sandbox still has eth0")
	}
	if _, err := pod2.handle(t).LinkByName("eth0"); err != nil {
		t.Errorf("new sandbox has no eth0: %v", err)
	}
	n.do(t, "teardown", n.m.Teardown)
}
