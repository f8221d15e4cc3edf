package network

import (
	"net/netip"
	"testing"
)

func TestDerivedMACs(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"vtep v4", vtepMAC(netip.MustParseAddr("10.240.0.22")).String(), "0e:6b:0a:f0:00:16"},
		{"vtep v4-in-v6", vtepMAC(netip.MustParseAddr("::ffff:10.240.0.22")).String(), "0e:6b:0a:f0:00:16"},
		{"bridge", bridgeMAC(netip.MustParseAddr("10.200.1.1")).String(), "0e:6a:0a:c8:01:01"},
		{"vtep v6 is stable", vtepMAC(netip.MustParseAddr("fd00::22")).String(), vtepMAC(netip.MustParseAddr("fd00::22")).String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %s, want %s", tt.got, tt.want)
			}
		})
	}
	a, b := vtepMAC(netip.MustParseAddr("fd00::21")), vtepMAC(netip.MustParseAddr("fd00::22"))
	if a.String() == b.String() {
		t.Errorf("two IPv6 nodes share MAC %s", a)
	}
	for _, m := range []string{a.String(), vtepMAC(netip.MustParseAddr("1.2.3.4")).String()} {
		if m[:2] != "0e" { // locally administered, unicast
			t.Errorf("MAC %s: want a 0e: prefix", m)
		}
	}
}

func TestHostVethName(t *testing.T) {
	a, b := hostVethName("uid-1"), hostVethName("uid-2")
	if len(a) != 12 || a[:4] != "veth" {
		t.Errorf("hostVethName = %q, want veth + 8 hex", a)
	}
	if a == b || a != hostVethName("uid-1") {
		t.Errorf("names not deterministic and distinct: %q %q", a, b)
	}
}
