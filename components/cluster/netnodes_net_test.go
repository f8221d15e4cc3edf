package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// TestNetnsNodeNetwork builds the node network of a two-node cluster (no
// control plane, no kubelets), checks a node is reachable from the host
// and from the other node, leaves behind what a kubelet would (a process
// in the node, a mount under the state directory, a cgroup), and checks
// delete removes all of it.
func TestNetnsNodeNetwork(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, a bridge, veths, mounts and cgroups")
	}
	name, layout := testClusterName(t), testSubnet(t)
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s := &netnsState{Name: name, Dir: dir, Network: "routes", Subnet: layout.subnet.String(), Bridge: bridgeName(name),
		HostIP: layout.hostIP().String(), CgroupParents: selfCgroupPaths()}
	for i := range 2 {
		s.Nodes = append(s.Nodes, nodeState{Name: netnsNodeName(name, i), IP: layout.nodeIP(i).String(),
			Netns: netnsName(name, i), HostVeth: hostVethName(name, i)})
	}
	t.Cleanup(func() {
		if _, err := deleteCluster(context.Background(), s, nil); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	var steps []string
	c := &NetnsCluster{state: s, opts: NetnsOptions{Progress: func(st NetnsStep) { steps = append(steps, st.Name) }}}
	if err := c.createNetwork(layout); err != nil {
		t.Fatal(err)
	}
	if len(steps) != 3 {
		t.Errorf("progress steps %q, want bridge and one per node", steps)
	}

	// Host -> node-0, and node-1 -> node-0, through the bridge.
	a, b := s.Nodes[0], s.Nodes[1]
	ln := inNetns(t, a.Netns, func() (net.Listener, error) { return net.Listen("tcp", a.IP+":0") })
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(conn, "hello from "+a.Name)
			conn.Close()
		}
	}()
	for _, from := range []string{"", b.Netns} {
		dial := func() (net.Conn, error) { return net.DialTimeout("tcp", ln.Addr().String(), 3*time.Second) }
		var conn net.Conn
		if from == "" {
			var err error
			if conn, err = dial(); err != nil {
				t.Fatalf("dial %s from the host: %v", ln.Addr(), err)
			}
		} else {
			conn = inNetns(t, from, dial)
		}
		got, err := io.ReadAll(conn)
		conn.Close()
		if err != nil || string(got) != "hello from "+a.Name {
			t.Errorf("from %q: read %q, %v", from, got, err)
		}
	}
	// Not reachable from the host's own namespace by any other route: the
	// host got an address on the bridge and nothing else.
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	br, _ := netlink.LinkByName(s.Bridge)
	for _, r := range routes {
		if r.LinkIndex == br.Attrs().Index && (r.Dst == nil || r.Dst.String() != layout.subnet.String()) {
			t.Errorf("unexpected host route via the bridge: %v", r)
		}
	}

	// What kubelets leave behind.
	sleeper := exec.Command("ip", "netns", "exec", a.Netns, "sleep", "300")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	go sleeper.Wait()
	mnt := filepath.Join(dir, "nodes", a.Name, "root", "m")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	cg := filepath.Join("/sys/fs/cgroup/pids", cgroupRoot(name), a.Name, "pod")
	if err := os.MkdirAll(cg, 0o755); err != nil {
		t.Logf("no pids cgroup to test with: %v", err)
		cg = ""
	}
	// Wait until ip netns exec has become sleep inside the node's netns:
	// delete finds leftovers by their namespace, not by name.
	want, err := netnsInode(netnsPath(a.Netns))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", sleeper.Process.Pid))
		got, _ := netnsInode(fmt.Sprintf("/proc/%d/ns/net", sleeper.Process.Pid))
		if strings.TrimSpace(string(comm)) == "sleep" && got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ip netns exec %s sleep never ran sleep in the namespace (comm %q)", a.Netns, comm)
		}
	}

	removed, err := DeleteNetnsCluster(context.Background(), NetnsOptions{Name: name, Dir: dir})
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	t.Logf("removed: %q", removed)
	all := strings.Join(removed, "\n")
	for _, want := range []string{"processes", "mounts", "netns " + a.Netns, "netns " + b.Netns, "bridge " + s.Bridge, "state " + dir} {
		if !strings.Contains(all, want) {
			t.Errorf("delete did not report %q", want)
		}
	}
	if sleeper.ProcessState == nil && syscallAlive(sleeper.Process.Pid) {
		t.Error("the process in the node's namespace survived")
	}
	for _, n := range s.Nodes {
		if _, err := os.Lstat(netnsPath(n.Netns)); err == nil {
			t.Errorf("%s still exists", netnsPath(n.Netns))
		}
		if _, err := netlink.LinkByName(n.HostVeth); err == nil {
			t.Errorf("veth %s still exists", n.HostVeth)
		}
	}
	if _, err := netlink.LinkByName(s.Bridge); err == nil {
		t.Errorf("bridge %s still exists", s.Bridge)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("state directory %s still exists", dir)
	}
	if cg != "" {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/pids", cgroupRoot(name))); err == nil {
			t.Errorf("cgroup %s still exists", cgroupRoot(name))
		}
	}
	// Deleting again finds nothing and is fine.
	if again, err := DeleteNetnsCluster(context.Background(), NetnsOptions{Name: name, Dir: dir}); err != nil || len(again) != 0 {
		t.Errorf("second delete = %q, %v; want nothing, no error", again, err)
	}
}

func syscallAlive(pid int) bool {
	_, err := procStartTime(pid)
	return err == nil
}

// inNetns runs f on a locked OS thread inside the named namespace: sockets
// it opens stay in that namespace after the thread goes back.
func inNetns[T any](t *testing.T, name string, f func() (T, error)) T {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		ns, err := netns.GetFromName(name)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			ch <- result{err: err}
			return
		}
		v, ferr := f()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread() // else the thread dies with this goroutine
		}
		ch <- result{v, ferr}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("in network namespace %s: %v", name, r.err)
	}
	return r.v
}

// testClusterName is unique per run, so a test never touches a real
// cluster (or another test's).
func testClusterName(t *testing.T) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b)
}

// testSubnet picks a node network no interface on this host uses.
func testSubnet(t *testing.T) subnetLayout {
	for i := 200; i < 250; i++ {
		l, err := parseSubnet(fmt.Sprintf("10.240.%d.0/24", i), 2)
		if err != nil {
			t.Fatal(err)
		}
		if _, used := subnetInUse(l.subnet); !used {
			return l
		}
	}
	t.Fatal("no free 10.240.x.0/24 for the test")
	return subnetLayout{}
}
