package allocator

import (
	"context"
	"errors"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

func newPortAllocator(t *testing.T, c *clientv3.Client, r string) *PortAllocator {
	t.Helper()
	a, err := NewPort(c, *utilnet.ParsePortRangeOrDie(r), "")
	if err != nil {
		t.Fatalf("NewPort(%s): %v", r, err)
	}
	return a
}

func TestNewPort(t *testing.T) {
	c := startEtcd(t).client(t)
	tests := []struct {
		name    string
		r       utilnet.PortRange
		wantErr bool
	}{
		{name: "default range", r: utilnet.PortRange{Base: 30000, Size: 2768}},
		{name: "empty", r: utilnet.PortRange{Base: 30000, Size: 0}, wantErr: true},
		{name: "past 65535", r: utilnet.PortRange{Base: 65000, Size: 1000}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPort(c, tt.r, "")
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewPort(%+v) error = %v, want error: %v", tt.r, err, tt.wantErr)
			}
		})
	}
}

func TestPortAllocate(t *testing.T) {
	ctx := context.Background()
	a := newPortAllocator(t, startEtcd(t).client(t), "30000-32767")
	if err := a.Allocate(ctx, 30080, "default/web"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		port       int
		wantErr    error
		wantDetail string
	}{
		{name: "first", port: 30000},
		{name: "last", port: 32767},
		{name: "taken", port: 30080, wantErr: ErrAllocated, wantDetail: "provided port is already allocated"},
		{name: "below", port: 29999, wantErr: ErrNotInRange,
			wantDetail: "provided port is not in the valid range. The range of valid ports is 30000-32767"},
		{name: "above", port: 32768, wantErr: ErrNotInRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.Allocate(ctx, tt.port, "default/other")
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Allocate(%d) = %v, want %v", tt.port, err, tt.wantErr)
			}
			var ae *AllocationError
			if tt.wantDetail != "" && (!errors.As(err, &ae) || ae.Detail() != tt.wantDetail) {
				t.Errorf("Allocate(%d) detail = %q, want %q", tt.port, ae.Detail(), tt.wantDetail)
			}
		})
	}
	if owner, err := a.Owner(ctx, 30080); err != nil || owner != "default/web" {
		t.Errorf("Owner(30080) = %q, %v; want default/web", owner, err)
	}
}

func TestPortAllocateNext(t *testing.T) {
	tests := []struct {
		name   string
		r      string
		count  int
		lowest int // AllocateNext results are all >= lowest
	}{
		{name: "tiny range, no static band, until full", r: "30000-30009", count: 10, lowest: 30000},
		{name: "default range prefers above the static band", r: "30000-32767", count: 40, lowest: 30086},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			a := newPortAllocator(t, startEtcd(t).client(t), tt.r)
			seen := map[int]bool{}
			for i := 0; i < tt.count; i++ {
				p, err := a.AllocateNext(ctx, "default/web")
				if err != nil {
					t.Fatalf("AllocateNext #%d: %v", i+1, err)
				}
				if seen[p] || p < tt.lowest || !a.r.Contains(p) {
					t.Fatalf("AllocateNext #%d = %d: duplicate or outside %d-%s", i+1, p, tt.lowest, tt.r)
				}
				seen[p] = true
			}
			if len(seen) < a.r.Size {
				return
			}
			if _, err := a.AllocateNext(ctx, "default/web"); !errors.Is(err, ErrFull) {
				t.Fatalf("AllocateNext on a full range = %v, want ErrFull", err)
			}
			if err := a.Release(ctx, 30004); err != nil {
				t.Fatal(err)
			}
			if p, err := a.AllocateNext(ctx, "default/web"); err != nil || p != 30004 {
				t.Fatalf("AllocateNext after release = %d, %v; want 30004", p, err)
			}
		})
	}
}

func TestPortRaceBetweenReplicas(t *testing.T) {
	ctx := context.Background()
	e := startEtcd(t)
	replicas := []*PortAllocator{
		newPortAllocator(t, e.client(t), "30000-30019"),
		newPortAllocator(t, e.client(t), "30000-30019"),
	}
	const racers = 30
	got := make(chan int, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			p, err := replicas[i%2].AllocateNext(ctx, "default/web")
			switch {
			case err == nil:
				got <- p
			case !errors.Is(err, ErrFull):
				t.Errorf("AllocateNext = %v, want a port or ErrFull", err)
			}
		})
	}
	wg.Wait()
	close(got)
	seen := map[int]bool{}
	for p := range got {
		if seen[p] {
			t.Errorf("port %d handed out twice", p)
		}
		seen[p] = true
	}
	if len(seen) != 20 {
		t.Errorf("handed out %d ports, want all 20", len(seen))
	}
}
