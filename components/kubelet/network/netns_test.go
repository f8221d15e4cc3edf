package network

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Helpers for the root tests: namespaces the tests create themselves (the
// host's own namespace is never changed), and running code inside them.

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, veths and bridges")
	}
	if testing.Short() {
		t.Skip("network namespace tests skipped in -short mode")
	}
}

// testNS is a named network namespace (/var/run/netns/<name>), removed in
// t.Cleanup even when the test fails. Removing the last reference destroys
// every link inside it.
type testNS struct {
	name string
	path string
	h    netns.NsHandle
}

func newTestNS(t *testing.T, suffix string) *testNS {
	t.Helper()
	name := fmt.Sprintf("kltest-%d-%s", os.Getpid(), suffix)
	var h netns.NsHandle
	err := onThread(func() error {
		// NewNamed moves this (throw-away) thread into the new namespace.
		var err error
		h, err = netns.NewNamed(name)
		return err
	})
	if err != nil {
		t.Fatalf("create netns %s: %v", name, err)
	}
	ns := &testNS{name: name, path: filepath.Join("/var/run/netns", name), h: h}
	t.Cleanup(func() {
		ns.h.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	return ns
}

// onThread runs fn on a fresh locked OS thread that is thrown away after, so
// whatever namespace fn switches into never leaks to other goroutines.
func onThread(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		done <- fn()
	}()
	return <-done
}

// in runs fn inside ns, the way the kubelet runs: on a thread in the node's
// namespace.
func (ns *testNS) in(fn func() error) error {
	return onThread(func() error {
		if err := netns.Set(ns.h); err != nil {
			return fmt.Errorf("enter %s: %w", ns.name, err)
		}
		return fn()
	})
}

func (ns *testNS) handle(t *testing.T) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns.h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// linkNodes joins two node namespaces with a veth pair named eth0 at both
// ends and gives them the node addresses, like two VMs on one switch.
func linkNodes(t *testing.T, a, b *testNS, addrA, addrB string) {
	t.Helper()
	ha, hb := a.handle(t), b.handle(t)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "peer0", PeerNamespace: netlink.NsFd(int(b.h))}
	if err := ha.LinkAdd(veth); err != nil {
		t.Fatalf("veth between nodes: %v", err)
	}
	for _, x := range []struct {
		h    *netlink.Handle
		name string
		addr string
	}{{ha, "eth0", addrA}, {hb, "peer0", addrB}} {
		l, err := x.h.LinkByName(x.name)
		if err != nil {
			t.Fatal(err)
		}
		if x.name != "eth0" {
			if err := x.h.LinkSetName(l, "eth0"); err != nil {
				t.Fatal(err)
			}
		}
		a, _ := netlink.ParseAddr(x.addr)
		if err := x.h.AddrAdd(l, a); err != nil {
			t.Fatal(err)
		}
		for _, lo := range []string{"lo"} {
			ll, _ := x.h.LinkByName(lo)
			x.h.LinkSetUp(ll)
		}
		if err := x.h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
}

// echoServer listens on addr inside ns and echoes one line per connection
// with a prefix naming the server. The socket keeps its namespace after the
// creating thread is gone, so Accept runs on an ordinary goroutine.
func echoServer(t *testing.T, ns *testNS, addr, name string) {
	t.Helper()
	var ln net.Listener
	if err := ns.in(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatalf("listen %s in %s: %v", addr, ns.name, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				fmt.Fprintf(c, "%s:%s", name, line)
			}()
		}
	}()
}

// dial connects from inside ns and returns the echo.
func dial(ns *testNS, addr string) (string, error) {
	var c net.Conn
	err := ns.in(func() (err error) { c, err = net.DialTimeout("tcp", addr, 3*time.Second); return err })
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := fmt.Fprintf(c, "hello\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}
