package network

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestPlanPeers(t *testing.T) {
	self := netip.MustParseAddr("10.240.0.21")
	own := prefixes("10.200.1.0/24", "fd00:10:200:1::/64")
	peers := []Peer{
		{Name: "node-1", IP: net.ParseIP("10.240.0.21"), PodCIDRs: []string{"10.200.1.0/24"}}, // self by name
		{Name: "node-2", IP: net.ParseIP("10.240.0.22"), PodCIDRs: []string{"10.200.2.0/24", "fd00:10:200:2::/64"}},
		{Name: "node-3", IP: net.ParseIP("10.240.0.23"), PodCIDRs: []string{"10.200.3.0/24"}},
	}
	tests := []struct {
		name   string
		mode   string
		peers  []Peer
		routes []string
		neighs []string
		fdbs   []string
		errHas string
	}{
		{name: "none", mode: ModeNone, peers: peers},
		{name: "routes", mode: ModeRoutes, peers: peers, routes: []string{
			"10.200.2.0/24 via 10.240.0.22", "10.200.3.0/24 via 10.240.0.23"}},
		{name: "vxlan", mode: ModeVXLAN, peers: peers,
			routes: []string{"10.200.2.0/24 via 10.200.2.0 onlink", "fd00:10:200:2::/64 via fd00:10:200:2:: onlink", "10.200.3.0/24 via 10.200.3.0 onlink"},
			neighs: []string{"10.200.2.0 0e:6b:0a:f0:00:16", "fd00:10:200:2:: 0e:6b:0a:f0:00:16", "10.200.3.0 0e:6b:0a:f0:00:17"},
			fdbs:   []string{"0e:6b:0a:f0:00:16 10.240.0.22", "0e:6b:0a:f0:00:17 10.240.0.23"}},
		{name: "self by IP", mode: ModeRoutes, peers: []Peer{{Name: "renamed", IP: net.ParseIP("10.240.0.21"), PodCIDRs: []string{"10.200.7.0/24"}}}},
		{name: "bad peers skipped, good kept", mode: ModeRoutes, peers: []Peer{
			{Name: "noip", PodCIDRs: []string{"10.200.4.0/24"}},
			{Name: "badcidr", IP: net.ParseIP("10.240.0.25"), PodCIDRs: []string{"x", "10.200.5.0/24"}},
			{Name: "overlap", IP: net.ParseIP("10.240.0.26"), PodCIDRs: []string{"10.200.1.0/25"}},
		}, routes: []string{"10.200.5.0/24 via 10.240.0.25"}, errHas: "noip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := planPeers(tt.mode, "node-1", self, own, tt.peers)
			if tt.errHas == "" && err != nil {
				t.Fatal(err)
			}
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || !strings.Contains(err.Error(), "overlaps") || !strings.Contains(err.Error(), `"x"`) {
					t.Fatalf("err = %v, want all three bad peers named", err)
				}
			}
			check(t, "routes", plan.routes, tt.routes, func(r routeSpec) string {
				s := fmt.Sprintf("%s via %s", r.Dst, r.Gw)
				if r.OnLink {
					s += " onlink"
				}
				return s
			})
			check(t, "neighs", plan.neighs, tt.neighs, func(n neighSpec) string { return n.IP.String() + " " + n.MAC })
			check(t, "fdbs", plan.fdbs, tt.fdbs, func(f fdbSpec) string { return f.MAC + " " + f.Dst.String() })
		})
	}
}

func check[T any](t *testing.T, what string, got []T, want []string, str func(T) string) {
	t.Helper()
	var s []string
	for _, g := range got {
		s = append(s, str(g))
	}
	if !slices.Equal(s, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, s, want)
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name             string
		want, have       []string
		wantAdd, wantDel []string
	}{
		{"empty", nil, nil, nil, nil},
		{"all new", []string{"a", "b"}, nil, []string{"a", "b"}, nil},
		{"all stale", nil, []string{"a"}, nil, []string{"a"}},
		{"in sync", []string{"a", "b"}, []string{"b", "a"}, nil, nil},
		{"mixed", []string{"a", "c"}, []string{"a", "b"}, []string{"c"}, []string{"b"}},
		{"duplicates added once", []string{"a", "a"}, nil, []string{"a"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			add, del := diff(tt.want, tt.have)
			if !slices.Equal(add, tt.wantAdd) || !slices.Equal(del, tt.wantDel) {
				t.Errorf("diff = +%v -%v, want +%v -%v", add, del, tt.wantAdd, tt.wantDel)
			}
		})
	}
	// Route changes show up as delete old + add new (struct keys compare by value).
	old := routeSpec{Dst: netip.MustParsePrefix("10.200.2.0/24"), Gw: netip.MustParseAddr("10.240.0.22")}
	moved := routeSpec{Dst: old.Dst, Gw: netip.MustParseAddr("10.240.0.99")}
	add, del := diff([]routeSpec{moved}, []routeSpec{old})
	if len(add) != 1 || add[0] != moved || len(del) != 1 || del[0] != old {
		t.Errorf("moved route: +%v -%v", add, del)
	}
}

func TestConfigSettings(t *testing.T) {
	base := Config{NodeName: "n", PodCIDRs: []string{"10.200.1.0/24"}, StateDir: "/tmp/x"}
	tests := []struct {
		name    string
		mod     func(*Config)
		mtu     int
		wantErr string
	}{
		{name: "defaults", mod: func(c *Config) {}, mtu: 1500},
		{name: "vxlan v4", mod: func(c *Config) { c.Mode = ModeVXLAN; c.NodeIP = net.ParseIP("10.240.0.21") }, mtu: 1450},
		{name: "vxlan v6 underlay", mod: func(c *Config) { c.Mode = ModeVXLAN; c.NodeIP = net.ParseIP("fd00::21") }, mtu: 1430},
		{name: "vxlan needs node IP", mod: func(c *Config) { c.Mode = ModeVXLAN }, wantErr: "node IP"},
		{name: "routes needs node IP", mod: func(c *Config) { c.Mode = ModeRoutes }, wantErr: "node IP"},
		{name: "bad mode", mod: func(c *Config) { c.Mode = "bgp" }, wantErr: `"bgp"`},
		{name: "no state dir", mod: func(c *Config) { c.StateDir = "" }, wantErr: "state dir"},
		{name: "bad vni", mod: func(c *Config) { c.Mode = ModeVXLAN; c.NodeIP = net.ParseIP("10.0.0.1"); c.VXLANID = 1 << 24 }, wantErr: "vxlan id"},
		{name: "long bridge name", mod: func(c *Config) { c.BridgeName = "a-very-long-bridge" }, wantErr: "15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.mod(&c)
			s, err := c.settings()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.podMTU != tt.mtu || s.BridgeName != "cni0" || s.vxlanDev != "kubelab.1" {
				t.Errorf("settings = mtu %d bridge %s vxlan %s", s.podMTU, s.BridgeName, s.vxlanDev)
			}
		})
	}
}
