package allocator

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return n
}

func newIPAllocator(t *testing.T, c *clientv3.Client, cidr string) *IPAllocator {
	t.Helper()
	a, err := NewIP(c, mustCIDR(t, cidr), "")
	if err != nil {
		t.Fatalf("NewIP(%s): %v", cidr, err)
	}
	return a
}

func TestNewIP(t *testing.T) {
	c := startEtcd(t).client(t)
	tests := []struct {
		cidr     string
		wantErr  bool
		wantCIDR string
	}{
		{cidr: "10.32.0.0/24", wantCIDR: "10.32.0.0/24"},
		{cidr: "10.32.0.1/24", wantCIDR: "10.32.0.0/24"}, // host bits dropped
		{cidr: "10.32.0.0/30", wantCIDR: "10.32.0.0/30"},
		{cidr: "10.32.0.0/31", wantErr: true},
		{cidr: "fd00:10:32::/112", wantCIDR: "fd00:10:32::/112"},
		{cidr: "fd00:10:32::/64", wantCIDR: "fd00:10:32::/64"},
		{cidr: "fd00:10::/48", wantErr: true},
		{cidr: "fd00:10:32::/127", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.cidr, func(t *testing.T) {
			a, err := NewIP(c, mustCIDR(t, tt.cidr), "")
			if tt.wantErr {
				if err == nil {
					t.Fatalf("NewIP(%s) = nil error, want one", tt.cidr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewIP(%s): %v", tt.cidr, err)
			}
			if got := a.CIDR().String(); got != tt.wantCIDR {
				t.Errorf("CIDR() = %s, want %s", got, tt.wantCIDR)
			}
		})
	}
	if _, err := NewIP(c, nil, ""); err == nil {
		t.Error("NewIP(nil) = nil error, want one")
	}
	if _, err := NewIP(nil, mustCIDR(t, "10.0.0.0/24"), ""); err == nil {
		t.Error("NewIP with nil client = nil error, want one")
	}
}

func TestIPAllocate(t *testing.T) {
	ctx := context.Background()
	c := startEtcd(t).client(t)
	v4 := newIPAllocator(t, c, "10.32.0.0/24")
	v6 := newIPAllocator(t, c, "fd00:10:32::/112")
	if err := v4.Allocate(ctx, net.ParseIP("10.32.0.10"), "kube-system/kube-dns"); err != nil {
		t.Fatalf("seed allocation: %v", err)
	}
	tests := []struct {
		name       string
		a          *IPAllocator
		ip         string
		wantErr    error
		wantDetail string
	}{
		{name: "first address for the kubernetes service", a: v4, ip: "10.32.0.1"},
		{name: "last usable", a: v4, ip: "10.32.0.254"},
		{name: "taken", a: v4, ip: "10.32.0.10", wantErr: ErrAllocated, wantDetail: "provided IP is already allocated"},
		{name: "network address", a: v4, ip: "10.32.0.0", wantErr: ErrNotInRange},
		{name: "broadcast address", a: v4, ip: "10.32.0.255", wantErr: ErrNotInRange},
		{name: "outside", a: v4, ip: "10.33.0.5", wantErr: ErrNotInRange,
			wantDetail: "provided IP is not in the valid range. The range of valid IPs is 10.32.0.0/24"},
		{name: "other family", a: v4, ip: "fd00:10:32::5", wantErr: ErrNotInRange},
		{name: "ipv6", a: v6, ip: "fd00:10:32::a"},
		{name: "ipv6 last address is usable (no broadcast)", a: v6, ip: "fd00:10:32::ffff"},
		{name: "ipv6 network address", a: v6, ip: "fd00:10:32::", wantErr: ErrNotInRange},
		{name: "ipv6 other family", a: v6, ip: "10.32.0.7", wantErr: ErrNotInRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.a.Allocate(ctx, net.ParseIP(tt.ip), "default/web")
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Allocate(%s) = %v, want %v", tt.ip, err, tt.wantErr)
			}
			var ae *AllocationError
			if tt.wantDetail != "" && (!errors.As(err, &ae) || ae.Detail() != tt.wantDetail) {
				t.Errorf("Allocate(%s) detail = %q, want %q", tt.ip, ae.Detail(), tt.wantDetail)
			}
			if tt.wantErr != nil {
				return
			}
			owner, err := tt.a.Owner(ctx, net.ParseIP(tt.ip))
			if err != nil || owner != "default/web" {
				t.Errorf("Owner(%s) = %q, %v; want default/web", tt.ip, owner, err)
			}
		})
	}
}

// TestIPKeyLayout checks what a student sees with etcdctl.
func TestIPKeyLayout(t *testing.T) {
	ctx := context.Background()
	c := startEtcd(t).client(t)
	a, err := NewIP(c, mustCIDR(t, "fd00:10:32::/112"), "/kubelab-test/")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Allocate(ctx, net.ParseIP("fd00:10:32:0::2a"), "default/web"); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(ctx, "/kubelab-test/ipaddresses/fd00:10:32::2a")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("get key: %v, %d keys", err, len(resp.Kvs))
	}
	var r record
	if err := json.Unmarshal(resp.Kvs[0].Value, &r); err != nil {
		t.Fatalf("value %q is not JSON: %v", resp.Kvs[0].Value, err)
	}
	if r.Namespace != "default" || r.Name != "web" || r.AllocatedAt.IsZero() {
		t.Errorf("value = %+v, want namespace default, name web, a time", r)
	}
}

func TestIPAllocateNext(t *testing.T) {
	tests := []struct {
		name     string
		cidr     string
		capacity int // AllocateNext hands out every usable address but the first
	}{
		{name: "ipv4 /29", cidr: "10.32.0.0/29", capacity: 5},
		{name: "ipv4 /30", cidr: "10.32.0.0/30", capacity: 1},
		{name: "ipv6 /125", cidr: "fd00:10:32::/125", capacity: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			a := newIPAllocator(t, startEtcd(t).client(t), tt.cidr)
			seen := map[string]bool{}
			for i := 0; i < tt.capacity; i++ {
				ip, err := a.AllocateNext(ctx, "default/web")
				if err != nil {
					t.Fatalf("AllocateNext #%d: %v", i+1, err)
				}
				off := a.offsetOf(mustAddr(t, ip))
				if seen[ip.String()] || off < 2 || off > a.last {
					t.Fatalf("AllocateNext #%d = %s (offset %d): duplicate, reserved or out of range", i+1, ip, off)
				}
				seen[ip.String()] = true
			}
			if _, err := a.AllocateNext(ctx, "default/web"); !errors.Is(err, ErrFull) {
				t.Fatalf("AllocateNext on a full range = %v, want ErrFull", err)
			}
			// Release one and it is the only one left to take.
			var freed net.IP
			for s := range seen {
				freed = net.ParseIP(s)
				break
			}
			if err := a.Release(ctx, freed); err != nil {
				t.Fatalf("Release(%s): %v", freed, err)
			}
			got, err := a.AllocateNext(ctx, "default/other")
			if err != nil || !got.Equal(freed) {
				t.Fatalf("AllocateNext after release = %s, %v; want %s", got, err, freed)
			}
		})
	}
}

// TestIPAllocateNextPrefersUpperBand: on a /24 the lowest 16 addresses are
// kept for Services that ask for one (DNS at .10), as long as others are free.
func TestIPAllocateNextPrefersUpperBand(t *testing.T) {
	ctx := context.Background()
	a := newIPAllocator(t, startEtcd(t).client(t), "10.32.0.0/24")
	for i := 0; i < 30; i++ {
		ip, err := a.AllocateNext(ctx, "default/web")
		if err != nil {
			t.Fatal(err)
		}
		if ip.To4()[3] <= 16 {
			t.Fatalf("AllocateNext = %s, want an address above 10.32.0.16", ip)
		}
	}
}

func TestIPRelease(t *testing.T) {
	ctx := context.Background()
	a := newIPAllocator(t, startEtcd(t).client(t), "10.32.0.0/24")
	tests := []struct {
		name string
		ip   string
	}{
		{name: "free address", ip: "10.32.0.20"},
		{name: "out of range", ip: "192.168.0.1"},
		{name: "held address", ip: "10.32.0.21"},
	}
	if err := a.Allocate(ctx, net.ParseIP("10.32.0.21"), "default/web"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := a.Release(ctx, net.ParseIP(tt.ip)); err != nil {
				t.Fatalf("Release(%s) = %v, want nil", tt.ip, err)
			}
			if a.Contains(net.ParseIP(tt.ip)) {
				if err := a.Allocate(ctx, net.ParseIP(tt.ip), "default/again"); err != nil {
					t.Fatalf("Allocate(%s) after Release: %v", tt.ip, err)
				}
			}
		})
	}
}

// TestIPRaceBetweenReplicas: two apiservers (two clients, two allocators,
// one etcd) race for the same address; exactly one may win. Then both drain a
// small range concurrently without ever handing out an address twice.
func TestIPRaceBetweenReplicas(t *testing.T) {
	ctx := context.Background()
	e := startEtcd(t)
	replicas := []*IPAllocator{
		newIPAllocator(t, e.client(t), "10.32.0.0/28"),
		newIPAllocator(t, e.client(t), "10.32.0.0/28"),
	}
	t.Run("same address", func(t *testing.T) {
		const racers = 16
		errs := make(chan error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() { errs <- replicas[i%2].Allocate(ctx, net.ParseIP("10.32.0.5"), "default/web") })
		}
		wg.Wait()
		close(errs)
		wins := 0
		for err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, ErrAllocated):
				t.Errorf("racer error = %v, want nil or ErrAllocated", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d racers got 10.32.0.5, want exactly 1", wins)
		}
	})
	t.Run("drain the range", func(t *testing.T) {
		// /28: 14 usable, .1 is never picked, .5 is taken above: 12 left.
		const racers = 20
		got := make(chan string, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				ip, err := replicas[i%2].AllocateNext(ctx, "default/web")
				switch {
				case err == nil:
					got <- ip.String()
				case !errors.Is(err, ErrFull):
					t.Errorf("AllocateNext = %v, want an IP or ErrFull", err)
				}
			})
		}
		wg.Wait()
		close(got)
		seen := map[string]bool{}
		for ip := range got {
			if seen[ip] {
				t.Errorf("%s handed out twice", ip)
			}
			seen[ip] = true
		}
		if len(seen) != 12 {
			t.Errorf("handed out %d addresses, want 12", len(seen))
		}
	})
}
