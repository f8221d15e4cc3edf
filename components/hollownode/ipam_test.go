package hollownode

import (
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestAddresses(t *testing.T) {
	for _, tt := range []struct {
		index          int
		nodeIP, podNet string
	}{
		{0, "10.241.0.1", "10.64.0.0/24"},
		{1, "10.241.0.2", "10.64.1.0/24"},
		{255, "10.241.1.0", "10.64.255.0/24"},
		{257, "10.241.1.2", "10.65.1.0/24"},
		{maxNodes - 1, "10.241.64.0", "10.127.255.0/24"},
	} {
		if got := nodeInternalIP(tt.index).String(); got != tt.nodeIP {
			t.Errorf("nodeInternalIP(%d) = %s, want %s", tt.index, got, tt.nodeIP)
		}
		if got := fakePodCIDR(tt.index).String(); got != tt.podNet {
			t.Errorf("fakePodCIDR(%d) = %s, want %s", tt.index, got, tt.podNet)
		}
	}
}

func TestPodCIDRs(t *testing.T) {
	for _, tt := range []struct {
		name string
		node *corev1.Node
		want []string
	}{
		{"no node yet", nil, []string{"10.64.3.0/24"}},
		{"no podCIDR", &corev1.Node{}, []string{"10.64.3.0/24"}},
		{"podCIDR only", &corev1.Node{Spec: corev1.NodeSpec{PodCIDR: "10.200.1.0/24"}}, []string{"10.200.1.0/24"}},
		{"dual-stack", &corev1.Node{Spec: corev1.NodeSpec{PodCIDR: "10.200.1.0/24", PodCIDRs: []string{"10.200.1.0/24", "fd00:10:200:1::/64"}}},
			[]string{"10.200.1.0/24", "fd00:10:200:1::/64"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range podCIDRs(tt.node, 3) {
				got = append(got, p.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("podCIDRs = %v, want %v", got, tt.want)
			}
		})
	}
	dual := []netip.Prefix{netip.MustParsePrefix("10.200.1.0/24"), netip.MustParsePrefix("fd00:10:200:1::/64")}
	if got := addrsAt(dual, 7); !slices.Equal(got, []string{"10.200.1.7", "fd00:10:200:1::7"}) {
		t.Errorf("addrsAt(dual, 7) = %v", got)
	}
	if got := usable(dual); got != 255 {
		t.Errorf("usable(/24 + /64) = %d, want 255 (the smaller range)", got)
	}
	if off, ok := offsetOf(dual[0], netip.MustParseAddr("10.200.1.42")); !ok || off != 42 {
		t.Errorf("offsetOf(10.200.1.42) = %d %v, want 42 true", off, ok)
	}
	if _, ok := offsetOf(dual[0], netip.MustParseAddr("10.200.2.1")); ok {
		t.Error("offsetOf an address outside the range must say so")
	}
}

func TestIPAM(t *testing.T) {
	a := newIPAM()
	must := func(off uint64, err error) uint64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return off
	}
	if got := must(a.assign("n0", "ns/a", "u1", 255)); got != 2 {
		t.Errorf("first pod got offset %d, want 2 (.1 is the bridge)", got)
	}
	if got := must(a.assign("n0", "ns/b", "u2", 255)); got != 3 {
		t.Errorf("second pod got offset %d, want 3", got)
	}
	if got := must(a.assign("n1", "ns/c", "u3", 255)); got != 2 {
		t.Errorf("a pod on another node got offset %d, want 2", got)
	}
	if got := must(a.assign("n0", "ns/a", "u1", 255)); got != 2 {
		t.Errorf("the same pod again got offset %d, want its own 2", got)
	}
	a.release("ns/a")
	if got := must(a.assign("n0", "ns/d", "u4", 255)); got != 2 {
		t.Errorf("after a release got offset %d, want the freed 2", got)
	}
	// A new pod with an old pod's name gets a fresh address.
	if got := must(a.assign("n0", "ns/b", "u5", 255)); got != 3 {
		t.Errorf("recreated pod got offset %d, want 3 (the old one's, released)", got)
	}
	a.reserve("n1", "ns/e", "u6", 3)
	if got := must(a.assign("n1", "ns/f", "u7", 255)); got != 4 {
		t.Errorf("after reserving 3 got offset %d, want 4", got)
	}
	if _, err := a.assign("n2", "ns/g", "u8", 2); err == nil {
		t.Error("a full range must be an error")
	}
}
