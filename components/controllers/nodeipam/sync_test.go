package nodeipam

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
)

func node(name string, cidrs ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if len(cidrs) > 0 {
		n.Spec.PodCIDR, n.Spec.PodCIDRs = cidrs[0], cidrs
	}
	return n
}

func TestSync(t *testing.T) {
	tests := []struct {
		name      string
		cluster   []string
		nodes     []*corev1.Node
		sync      string
		wantCIDRs []string
		wantErr   bool
		wantEvent string
	}{{
		name: "a new node gets the first free block after a restart", cluster: []string{"10.200.0.0/16"},
		nodes: []*corev1.Node{node("old", "10.200.0.0/24"), node("new")}, sync: "new",
		wantCIDRs: []string{"10.200.1.0/24"},
	}, {
		name: "dual-stack", cluster: []string{"10.200.0.0/16", "fd00:10:200::/56"},
		nodes: []*corev1.Node{node("new")}, sync: "new",
		wantCIDRs: []string{"10.200.0.0/24", "fd00:10:200::/64"},
	}, {
		name: "a node with CIDRs keeps them", cluster: []string{"10.200.0.0/16"},
		nodes: []*corev1.Node{node("old", "10.200.7.0/24")}, sync: "old",
		wantCIDRs: []string{"10.200.7.0/24"},
	}, {
		name: "full: CIDRNotAvailable", cluster: []string{"10.200.0.0/24"},
		nodes: []*corev1.Node{node("old", "10.200.0.0/24"), node("new")}, sync: "new",
		wantErr: true, wantEvent: "Normal CIDRNotAvailable Node new status is now: CIDRNotAvailable",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []runtime.Object
			for _, n := range tt.nodes {
				objs = append(objs, n)
			}
			kube := fake.NewClientset(objs...)
			factory := informers.NewSharedInformerFactory(kube, 0)
			alloc, err := NewAllocator(tt.cluster, 24, 64, nil)
			if err != nil {
				t.Fatal(err)
			}
			rec := record.NewFakeRecorder(10)
			c, err := New(kube, rec, factory.Core().V1().Nodes(), alloc)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range tt.nodes {
				if err := factory.Core().V1().Nodes().Informer().GetIndexer().Add(n); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.rebuild(); err != nil {
				t.Fatal(err)
			}
			err = c.sync(context.Background(), tt.sync)
			if (err != nil) != tt.wantErr {
				t.Fatalf("sync = %v, want error %v", err, tt.wantErr)
			}
			got, _ := kube.CoreV1().Nodes().Get(context.Background(), tt.sync, metav1.GetOptions{})
			if !slices.Equal(got.Spec.PodCIDRs, tt.wantCIDRs) || (len(tt.wantCIDRs) > 0 && got.Spec.PodCIDR != tt.wantCIDRs[0]) {
				t.Errorf("podCIDR %q podCIDRs %v, want %v", got.Spec.PodCIDR, got.Spec.PodCIDRs, tt.wantCIDRs)
			}
			select {
			case e := <-rec.Events:
				if tt.wantEvent == "" || !strings.Contains(e, tt.wantEvent) {
					t.Errorf("event %q, want %q", e, tt.wantEvent)
				}
			default:
				if tt.wantEvent != "" {
					t.Errorf("no event, want %q", tt.wantEvent)
				}
			}
		})
	}
}
