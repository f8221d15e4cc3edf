package network

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
)

// Modes of reaching other nodes' pods.
const (
	// ModeNone is a single node: no routes to peers.
	ModeNone = "none"
	// ModeRoutes is host-gw: "podCIDR via nodeIP" per peer. Needs all nodes
	// on one L2 segment (the KTHW "pod routes" lab).
	ModeRoutes = "routes"
	// ModeVXLAN is a flannel-style overlay: pod traffic in UDP (port 4789)
	// between node IPs, which only need to reach each other.
	ModeVXLAN = "vxlan"
)

const (
	defaultBridge = "cni0"
	defaultMTU    = 1500
	vxlanPort     = 4789
	// routeProtocol tags every route SyncPeers installs (ip route shows
	// "proto 107"), so stale ones can be found and removed without touching
	// routes someone else added.
	routeProtocol = 107
	stateFile     = "ipam.json"
)

// Config describes one node's pod network.
type Config struct {
	NodeName string
	// BridgeName is the pod bridge; default "cni0".
	BridgeName string
	// PodCIDRs is node.spec.podCIDRs: one IPv4, optionally plus one IPv6.
	PodCIDRs []string
	// NodeIP is this node's InternalIP, the address peers route (or tunnel) to.
	NodeIP net.IP
	// Mode is ModeRoutes, ModeVXLAN or ModeNone (default).
	Mode string
	// MTU is the node network's MTU (default 1500); pods get 50 less in
	// vxlan mode (70 with an IPv6 underlay).
	MTU int
	// VXLANID is the VNI (default 1); the device is "kubelab.<VXLANID>".
	VXLANID int
	// StateDir holds the IPAM allocations (ipam.json), which must survive
	// kubelet restarts.
	StateDir string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// settings is a validated Config with defaults applied.
type settings struct {
	Config
	cidrs    []netip.Prefix
	nodeIP   netip.Addr // invalid in ModeNone without NodeIP
	podMTU   int
	vxlanDev string
}

func (c Config) settings() (settings, error) {
	s := settings{Config: c}
	if s.BridgeName == "" {
		s.BridgeName = defaultBridge
	}
	if s.Mode == "" {
		s.Mode = ModeNone
	}
	if s.MTU == 0 {
		s.MTU = defaultMTU
	}
	if s.VXLANID == 0 {
		s.VXLANID = 1
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if len(s.BridgeName) > 15 {
		return s, fmt.Errorf("bridge name %q: longer than 15 characters", s.BridgeName)
	}
	if s.StateDir == "" {
		return s, fmt.Errorf("node %q: state dir is required", s.NodeName)
	}
	cidrs, err := parsePodCIDRs(s.PodCIDRs)
	if err != nil {
		return s, err
	}
	s.cidrs = cidrs
	if len(s.NodeIP) > 0 {
		a, ok := toAddr(s.NodeIP)
		if !ok {
			return s, fmt.Errorf("node IP %q: not an IP address", s.NodeIP)
		}
		s.nodeIP = a
	}
	s.podMTU = s.MTU
	// Named in every mode so that Setup and Teardown can remove a device
	// left over from an earlier vxlan run.
	s.vxlanDev = fmt.Sprintf("kubelab.%d", s.VXLANID)
	switch s.Mode {
	case ModeNone:
	case ModeRoutes:
		if !s.nodeIP.IsValid() {
			return s, fmt.Errorf("mode %q: node IP is required", s.Mode)
		}
	case ModeVXLAN:
		if !s.nodeIP.IsValid() {
			return s, fmt.Errorf("mode %q: node IP is required", s.Mode)
		}
		if s.VXLANID < 1 || s.VXLANID > 1<<24-1 {
			return s, fmt.Errorf("vxlan id %d: out of range 1..16777215", s.VXLANID)
		}
		// Outer IP + UDP + VXLAN + inner Ethernet headers.
		overhead := 50
		if s.nodeIP.Is6() {
			overhead = 70
		}
		s.podMTU = s.MTU - overhead
	default:
		return s, fmt.Errorf("mode %q: want %q, %q or %q", s.Mode, ModeRoutes, ModeVXLAN, ModeNone)
	}
	if s.podMTU < 1280 && len(s.cidrs) == 2 || s.podMTU < 576 {
		return s, fmt.Errorf("mtu %d: pod MTU %d too small", s.MTU, s.podMTU)
	}
	return s, nil
}

func (s settings) statePath() string { return filepath.Join(s.StateDir, stateFile) }
