package cluster

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestNetnsClusterCreate runs the whole thing: control plane, two kubelets
// in their namespaces, a kubelet restart, delete. It needs the kubelab and
// kubelet binaries: KUBELAB_BIN=<dir holding both> (e.g. bin after
// `make build`).
func TestNetnsClusterCreate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, a bridge, kubelets")
	}
	bin := os.Getenv("KUBELAB_BIN")
	if bin == "" {
		t.Skip("set KUBELAB_BIN to a directory with the kubelab and kubelet binaries (go build -o bin/ ./cmd/kubelab ./cmd/kubelet)")
	}
	name, layout := testClusterName(t), testSubnet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o := NetnsOptions{Name: name, Nodes: 2, Subnet: layout.subnet.String(), Dir: filepath.Join(t.TempDir(), name),
		KubelabBinary: filepath.Join(bin, "kubelab"), KubeletBinary: filepath.Join(bin, "kubelet"),
		ReadyTimeout: time.Minute, Progress: func(s NetnsStep) { t.Logf("✓ %s %s (%s)", s.Name, s.Detail, s.Took) }}
	c, err := CreateNetnsCluster(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Delete(context.Background()); err != nil {
			t.Errorf("delete: %v", err)
		}
		for _, n := range c.Nodes {
			if _, err := os.Lstat(netnsPath(n.Netns)); err == nil {
				t.Errorf("%s left behind", n.Netns)
			}
		}
	})
	if len(c.Nodes) != 2 || c.Nodes[1].IP != layout.nodeIP(1).String() || c.Server != "https://"+layout.hostIP().String()+":6443" {
		t.Errorf("cluster = %+v", c)
	}

	cs, err := netnsClient(c.AdminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	node := c.Nodes[0].Name
	before, err := cs.CoordinationV1().Leases("kube-node-lease").Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RestartKubelet(ctx, node); err != nil {
		t.Fatal(err)
	}
	// The restarted kubelet renews its lease again.
	for {
		l, err := cs.CoordinationV1().Leases("kube-node-lease").Get(ctx, node, metav1.GetOptions{})
		if err == nil && l.Spec.RenewTime != nil && l.Spec.RenewTime.After(before.Spec.RenewTime.Time) && c.state.Nodes[0].Kubelet.alive() {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("restarted kubelet of %s never renewed its lease", node)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
