package network

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

func newTestPool(t *testing.T, cidrs ...string) *pool {
	t.Helper()
	p, err := openPool(filepath.Join(t.TempDir(), "state", stateFile), prefixes(cidrs...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func addrStrings(a []netip.Addr) string {
	var s []string
	for _, x := range a {
		s = append(s, x.String())
	}
	return strings.Join(s, ",")
}

func TestPoolAllocate(t *testing.T) {
	tests := []struct {
		name   string
		cidrs  []string
		owners []string // allocated in order
		want   []string // addresses of each owner
	}{
		{"first skips network and gateway", []string{"10.200.1.0/24"}, []string{"a"}, []string{"10.200.1.2"}},
		{"sequential", []string{"10.200.1.0/24"}, []string{"a", "b", "c"}, []string{"10.200.1.2", "10.200.1.3", "10.200.1.4"}},
		{"idempotent per owner", []string{"10.200.1.0/24"}, []string{"a", "b", "a"}, []string{"10.200.1.2", "10.200.1.3", "10.200.1.2"}},
		{"dual stack", []string{"10.200.1.0/24", "fd00:10:200:1::/64"}, []string{"a", "b"},
			[]string{"10.200.1.2,fd00:10:200:1::2", "10.200.1.3,fd00:10:200:1::3"}},
		{"tiny cidr skips broadcast", []string{"10.0.0.0/29"}, []string{"a", "b", "c", "d", "e"},
			[]string{"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPool(t, tt.cidrs...)
			for i, o := range tt.owners {
				got, _, err := p.allocate(o)
				if err != nil {
					t.Fatalf("allocate(%s): %v", o, err)
				}
				if addrStrings(got) != tt.want[i] {
					t.Errorf("allocate(%s) = %s, want %s", o, addrStrings(got), tt.want[i])
				}
			}
		})
	}
}

func TestPoolExhaustionAndRelease(t *testing.T) {
	p := newTestPool(t, "10.0.0.0/29") // 5 usable: .2-.6
	for _, o := range []string{"a", "b", "c", "d", "e"} {
		if _, _, err := p.allocate(o); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := p.allocate("f")
	if err == nil || !strings.Contains(err.Error(), "10.0.0.0/29") {
		t.Fatalf("err = %v, want an exhaustion error naming the CIDR", err)
	}
	if err := p.release("c"); err != nil { // frees 10.0.0.4
		t.Fatal(err)
	}
	if err := p.release("never-seen"); err != nil {
		t.Fatalf("release of unknown owner: %v", err)
	}
	got, fresh, err := p.allocate("f")
	if err != nil || !fresh || addrStrings(got) != "10.0.0.4" {
		t.Fatalf("after release: %v %v %v, want 10.0.0.4", got, fresh, err)
	}
}

func TestPoolDoesNotReuseAtOnce(t *testing.T) {
	p := newTestPool(t, "10.200.1.0/24")
	p.allocate("a") // .2
	p.allocate("b") // .3
	p.release("b")
	got, _, _ := p.allocate("c")
	if addrStrings(got) != "10.200.1.4" {
		t.Errorf("got %s, want 10.200.1.4 (search continues after the last one handed out)", addrStrings(got))
	}
}

func TestPoolWrapsAround(t *testing.T) {
	p := newTestPool(t, "10.0.0.0/29")
	for _, o := range []string{"a", "b", "c", "d", "e"} {
		p.allocate(o)
	}
	p.release("b") // .3
	got, _, err := p.allocate("f")
	if err != nil || addrStrings(got) != "10.0.0.3" {
		t.Fatalf("got %v %v, want 10.0.0.3 after wrapping", got, err)
	}
}

func TestPoolPersistence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, stateFile)
	cidrs := prefixes("10.200.1.0/24", "fd00:10:200:1::/64")
	p, err := openPool(path, cidrs)
	if err != nil {
		t.Fatal(err)
	}
	a1, _, _ := p.allocate("a")
	p.allocate("b")
	p.release("b")

	q, err := openPool(path, cidrs) // a "restarted kubelet"
	if err != nil {
		t.Fatal(err)
	}
	if got := q.allocated(); len(got) != 1 || addrStrings(got["a"]) != addrStrings(a1) {
		t.Fatalf("reloaded allocations = %v, want only a=%s", got, addrStrings(a1))
	}
	again, fresh, _ := q.allocate("a")
	if fresh || addrStrings(again) != addrStrings(a1) {
		t.Errorf("allocate(a) after reload = %s fresh=%v, want %s", addrStrings(again), fresh, addrStrings(a1))
	}
	c, _, _ := q.allocate("c")
	if addrStrings(c) != "10.200.1.4,fd00:10:200:1::4" {
		t.Errorf("allocate(c) = %s: the cursor was not persisted", addrStrings(c))
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != stateFile {
			t.Errorf("stray file %s left by the atomic write", e.Name())
		}
	}
	if err := q.remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("state file still there after remove: %v", err)
	}
	if err := q.remove(); err != nil {
		t.Errorf("second remove: %v", err)
	}
}

func TestPoolCorruptState(t *testing.T) {
	path := filepath.Join(t.TempDir(), stateFile)
	os.WriteFile(path, []byte("{not json"), 0o644)
	if _, err := openPool(path, prefixes("10.0.0.0/24")); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want a parse error naming the file", err)
	}
}

func TestPoolIPv6DoesNotIterate(t *testing.T) {
	p := newTestPool(t, "fd00:10:200:1::/64")
	var got []netip.Addr
	for i := range 200 {
		a, _, err := p.allocate(string(rune('a' + i)))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a...)
	}
	if !slices.IsSortedFunc(got, netip.Addr.Compare) || got[199].String() != "fd00:10:200:1::c9" {
		t.Errorf("unexpected v6 sequence ending %s", got[199])
	}
}

func TestPoolKeepsOutOfRangeAllocations(t *testing.T) {
	path := filepath.Join(t.TempDir(), stateFile)
	p, _ := openPool(path, prefixes("10.200.1.0/24"))
	p.allocate("old")
	q, err := openPool(path, prefixes("10.200.9.0/24")) // pod CIDR changed
	if err != nil {
		t.Fatal(err)
	}
	if got := q.allocated()["old"]; addrStrings(got) != "10.200.1.2" {
		t.Errorf("old allocation = %v, want it reported so it can be released", got)
	}
	got, _, _ := q.allocate("old")
	if addrStrings(got) != "10.200.9.2" {
		t.Errorf("allocate(old) in the new CIDR = %s", addrStrings(got))
	}
}

func TestPoolRewind(t *testing.T) {
	p := newTestPool(t, "10.200.1.0/24")
	p.allocate("a") // .2
	before := p.cursor()
	if got, fresh, _ := p.allocate("b"); !fresh || addrStrings(got) != "10.200.1.3" {
		t.Fatalf("allocate(b) = %s", addrStrings(got))
	}
	if err := p.rewind("b", before); err != nil { // b's pod never came up
		t.Fatal(err)
	}
	if _, ok := p.allocated()["b"]; ok {
		t.Error("b still allocated after rewind")
	}
	if got, _, _ := p.allocate("c"); addrStrings(got) != "10.200.1.3" {
		t.Errorf("allocate(c) after rewind = %s, want 10.200.1.3", addrStrings(got))
	}
}
