package network

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParsePodCIDRs(t *testing.T) {
	tests := []struct {
		in      []string
		want    []string
		wantErr string
	}{
		{in: []string{"10.200.1.0/24"}, want: []string{"10.200.1.0/24"}},
		{in: []string{"10.200.1.7/24"}, want: []string{"10.200.1.0/24"}}, // masked
		{in: []string{"10.200.1.0/24", "fd00:10:200:1::/64"}, want: []string{"10.200.1.0/24", "fd00:10:200:1::/64"}},
		{in: nil, wantErr: "want one or two"},
		{in: []string{"a", "b", "c"}, wantErr: "want one or two"},
		{in: []string{"10.0.0.0/24", "10.1.0.0/24"}, wantErr: "same family"},
		{in: []string{"10.0.0.0/31"}, wantErr: "too small"},
		{in: []string{"nonsense"}, wantErr: `"nonsense"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, ","), func(t *testing.T) {
			got, err := parsePodCIDRs(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].String() != tt.want[i] {
					t.Errorf("[%d] = %s, want %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestCIDRAddresses(t *testing.T) {
	tests := []struct {
		cidr                          string
		network, gateway, first, last string
		lastAll                       string
		count                         int
	}{
		{"10.200.1.0/24", "10.200.1.0", "10.200.1.1", "10.200.1.2", "10.200.1.254", "10.200.1.255", 253},
		{"10.200.0.0/16", "10.200.0.0", "10.200.0.1", "10.200.0.2", "10.200.255.254", "10.200.255.255", 65533},
		{"10.0.0.8/30", "10.0.0.8", "10.0.0.9", "10.0.0.10", "10.0.0.10", "10.0.0.11", 1},
		{"10.0.0.5/29", "10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.6", "10.0.0.7", 5},
		{"fd00:10:200:1::/64", "fd00:10:200:1::", "fd00:10:200:1::1", "fd00:10:200:1::2",
			"fd00:10:200:1:ffff:ffff:ffff:fffe", "fd00:10:200:1:ffff:ffff:ffff:ffff", 1 << 62},
		{"fd00::/120", "fd00::", "fd00::1", "fd00::2", "fd00::fe", "fd00::ff", 253},
	}
	for _, tt := range tests {
		t.Run(tt.cidr, func(t *testing.T) {
			p := netip.MustParsePrefix(tt.cidr)
			first, last := usableRange(p)
			for _, c := range []struct{ name, got, want string }{
				{"network", networkAddr(p).String(), tt.network},
				{"gateway", gatewayAddr(p).String(), tt.gateway},
				{"first", first.String(), tt.first},
				{"last usable", last.String(), tt.last},
				{"last", lastAddr(p).String(), tt.lastAll},
			} {
				if c.got != c.want {
					t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
				}
			}
			if got := usableCount(p); got != tt.count {
				t.Errorf("usableCount = %d, want %d", got, tt.count)
			}
		})
	}
}

func TestIPNet(t *testing.T) {
	n := ipNet(netip.MustParseAddr("10.200.1.5"), netip.MustParsePrefix("10.200.1.0/24"))
	if n.String() != "10.200.1.5/24" {
		t.Errorf("ipNet = %s", n.String())
	}
	if got := hostNet(netip.MustParseAddr("fd00::1")).String(); got != "fd00::1/128" {
		t.Errorf("hostNet = %s", got)
	}
	if got := prefixNet(netip.MustParsePrefix("10.1.2.3/16")).String(); got != "10.1.0.0/16" {
		t.Errorf("prefixNet = %s", got)
	}
}
