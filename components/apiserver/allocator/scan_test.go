package allocator

import (
	"net"
	"net/netip"
	"testing"
)

func mustAddr(t *testing.T, ip net.IP) netip.Addr {
	t.Helper()
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		t.Fatalf("bad IP %v", ip)
	}
	return a.Unmap()
}

func TestStaticBandSize(t *testing.T) {
	tests := []struct {
		name                       string
		size, floor, ceiling, step uint64
		want                       uint64
	}{
		{name: "/29 too small for a band", size: 6, floor: 16, ceiling: 256, step: 16, want: 0},
		{name: "/24", size: 254, floor: 16, ceiling: 256, step: 16, want: 16},
		{name: "/20", size: 4094, floor: 16, ceiling: 256, step: 16, want: 255},
		{name: "/16 capped", size: 65534, floor: 16, ceiling: 256, step: 16, want: 256},
		{name: "node ports 30000-32767", size: 2768, floor: 16, ceiling: 128, step: 32, want: 86},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := staticBandSize(tt.size, tt.floor, tt.ceiling, tt.step); got != tt.want {
				t.Errorf("staticBandSize(%d) = %d, want %d", tt.size, got, tt.want)
			}
		})
	}
}

func TestScan(t *testing.T) {
	tests := []struct {
		name    string
		bands   []band
		taken   map[uint64]bool
		lose    map[uint64]bool // take fails: another replica won the race
		want    uint64
		wantErr error
	}{
		{name: "only one free", bands: []band{{2, 6}}, taken: map[uint64]bool{2: true, 3: true, 5: true, 6: true}, want: 4},
		{name: "lost race moves on", bands: []band{{2, 3}}, taken: map[uint64]bool{}, lose: map[uint64]bool{2: true}, want: 3},
		{name: "upper band first", bands: []band{{5, 5}, {1, 4}}, taken: map[uint64]bool{}, want: 5},
		{name: "falls back to lower band", bands: []band{{5, 5}, {1, 1}}, taken: map[uint64]bool{5: true}, want: 1},
		{name: "full", bands: []band{{2, 3}}, taken: map[uint64]bool{2: true, 3: true}, wantErr: ErrFull},
		{name: "empty band", bands: []band{{3, 2}}, wantErr: ErrFull},
		{name: "64-bit wide band", bands: []band{{1, ^uint64(0) - 1}}, taken: map[uint64]bool{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scan(tt.bands,
				func(o uint64) bool { return tt.taken[o] },
				func(o uint64) (bool, error) { return !tt.lose[o], nil })
			if err != tt.wantErr {
				t.Fatalf("scan = %d, %v; want error %v", got, err, tt.wantErr)
			}
			if err == nil && tt.want != 0 && got != tt.want {
				t.Errorf("scan = %d, want %d", got, tt.want)
			}
		})
	}
}
