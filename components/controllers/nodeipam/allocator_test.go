package nodeipam

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestNewAllocatorErrors(t *testing.T) {
	tests := []struct {
		name    string
		cluster []string
		v4, v6  int
		wantErr string
	}{
		{"no cluster CIDR", nil, 24, 64, "must specify --cluster-cidr"},
		{"not a CIDR", []string{"10.200.0.0"}, 24, 64, "--cluster-cidr"},
		{"two of one family", []string{"10.200.0.0/16", "10.201.0.0/16"}, 24, 64, "not configured as dual stack"},
		{"three", []string{"10.200.0.0/16", "fd00::/56", "10.201.0.0/16"}, 24, 64, "more than max allowed of 2"},
		{"node mask wider than the cluster", []string{"10.200.0.0/16"}, 12, 64, "mask size of cluster CIDR must be less than or equal to --node-cidr-mask-size"},
		{"IPv6 with too many blocks", []string{"fd00::/40"}, 24, 64, "node CIDR size is too big"},
		{"ok dual-stack, comma separated", []string{"10.200.0.0/16,fd00:10:200::/56"}, 24, 64, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewAllocator(tt.cluster, tt.v4, tt.v6, nil)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("NewAllocator = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestAllocate(t *testing.T) {
	tests := []struct {
		name     string
		cluster  []string
		v4, v6   int
		services []string
		existing [][]string // pod CIDRs of nodes present at start
		n        int        // allocations to make
		want     []string   // the allocations, joined by "," per node
		wantFull bool       // the allocation after them fails: no CIDRs left
	}{{
		name: "IPv4: /24s in order", cluster: []string{"10.200.0.0/16"}, v4: 24, n: 3,
		want: []string{"10.200.0.0/24", "10.200.1.0/24", "10.200.2.0/24"},
	}, {
		name: "IPv6: /64s", cluster: []string{"fd00:10:200::/56"}, v6: 64, n: 2,
		want: []string{"fd00:10:200::/64", "fd00:10:200:1::/64"},
	}, {
		name: "dual-stack: one of each, in --cluster-cidr order", cluster: []string{"fd00:10:200::/56", "10.200.0.0/16"}, v4: 24, v6: 64, n: 2,
		want: []string{"fd00:10:200::/64,10.200.0.0/24", "fd00:10:200:1::/64,10.200.1.0/24"},
	}, {
		name: "exhaustion", cluster: []string{"10.200.0.0/23"}, v4: 24, n: 2,
		want: []string{"10.200.0.0/24", "10.200.1.0/24"}, wantFull: true,
	}, {
		name: "restart: existing nodes' CIDRs are not handed out again", cluster: []string{"10.200.0.0/22"}, v4: 24,
		existing: [][]string{{"10.200.0.0/24"}, {"10.200.2.0/24"}}, n: 2,
		want: []string{"10.200.1.0/24", "10.200.3.0/24"}, wantFull: true,
	}, {
		name: "the service range is skipped", cluster: []string{"10.0.0.0/22"}, v4: 24, services: []string{"10.0.1.0/24"}, n: 3,
		want: []string{"10.0.0.0/24", "10.0.2.0/24", "10.0.3.0/24"}, wantFull: true,
	}, {
		name: "a small service range takes its whole block", cluster: []string{"10.0.0.0/23"}, v4: 24, services: []string{"10.0.0.16/28"}, n: 1,
		want: []string{"10.0.1.0/24"}, wantFull: true,
	}, {
		name: "dual-stack exhaustion of one family fails both", cluster: []string{"fd00::/56", "10.200.0.0/24"}, v4: 24, v6: 64, n: 1,
		want: []string{"fd00::/64,10.200.0.0/24"}, wantFull: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewAllocator(tt.cluster, tt.v4, tt.v6, tt.services)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range tt.existing {
				if err := a.Occupy(e); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for i := 0; i < tt.n; i++ {
				c, err := a.Allocate()
				if err != nil {
					t.Fatalf("allocation %d: %v", i, err)
				}
				got = append(got, strings.Join(c, ","))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("allocated %v, want %v", got, tt.want)
			}
			_, err = a.Allocate()
			if full := errors.Is(err, ErrNoCIDRsRemaining); full != tt.wantFull {
				t.Errorf("next allocation: %v, want no-CIDRs-left %v", err, tt.wantFull)
			}
		})
	}
}

// TestReleaseAndReuse: a deleted node's block is free again, but the
// search goes round robin, so it is reused only after the others.
func TestReleaseAndReuse(t *testing.T) {
	a, err := NewAllocator([]string{"10.200.0.0/22"}, 24, 64, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := a.Allocate()
	a.Allocate()
	if err := a.Release(first); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < 3; i++ {
		c, err := a.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c[0])
	}
	if want := []string{"10.200.2.0/24", "10.200.3.0/24", "10.200.0.0/24"}; !slices.Equal(got, want) {
		t.Errorf("allocated %v, want %v", got, want)
	}
	if err := a.Occupy([]string{"192.168.0.0/24"}); err == nil {
		t.Error("occupying a CIDR outside the cluster CIDR did not fail")
	}
}
