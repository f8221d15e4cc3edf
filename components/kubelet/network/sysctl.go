package network

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"

	"github.com/vishvananda/netns"
)

// sysctl is one knob under /proc/sys. /proc/sys/net shows the network
// namespace of the thread that opens the file, so the writes happen on a
// thread that has entered the node's namespace.
type sysctl struct {
	path  string
	value string
	// optional knobs exist only sometimes: the bridge-nf ones only when
	// br_netfilter is loaded.
	optional bool
}

func (m *Manager) wantedSysctls() []sysctl {
	want := []sysctl{
		// New namespaces start with forwarding off: without it the node
		// drops every packet between cni0 and its uplink.
		{path: "net/ipv4/ip_forward", value: "1"},
		// kube-proxy NodePorts on 127.0.0.1.
		{path: "net/ipv4/conf/all/route_localnet", value: "1"},
		// Bridged pod-to-pod traffic must pass through conntrack/nftables,
		// or replies from a Service endpoint on the same bridge skip the
		// reverse NAT and the client drops them.
		{path: "net/bridge/bridge-nf-call-iptables", value: "1", optional: true},
	}
	for _, c := range m.s.cidrs {
		if c.Addr().Is6() {
			want = append(want,
				sysctl{path: "net/ipv6/conf/all/forwarding", value: "1"},
				sysctl{path: "net/bridge/bridge-nf-call-ip6tables", value: "1", optional: true})
		}
	}
	return want
}

func (m *Manager) sysctls() error { return m.writeSysctls(m.wantedSysctls()) }

func (m *Manager) writeSysctls(want []sysctl) error {
	return m.inNS(func() error {
		for _, s := range want {
			p := "/proc/sys/" + s.path
			err := os.WriteFile(p, []byte(s.value), 0o644)
			if s.optional && errors.Is(err, fs.ErrNotExist) {
				m.s.Logger.Debug("sysctl not present, skipped", "node", m.s.NodeName, "sysctl", s.path)
				continue
			}
			if err != nil {
				return fmt.Errorf("sysctl %s=%s: %w", s.path, s.value, err)
			}
		}
		return nil
	})
}

// inNS runs fn on a fresh OS thread inside the node's namespace. The thread
// is never unlocked: when the goroutine ends, Go destroys it rather than let
// another goroutine inherit a thread in the wrong namespace.
func (m *Manager) inNS(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(m.ns); err != nil {
			done <- fmt.Errorf("enter node network namespace: %w", err)
			return
		}
		done <- fn()
	}()
	return <-done
}
