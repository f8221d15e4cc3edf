package cli

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
)

func TestParseHollowNodeFlags(t *testing.T) {
	labels, err := parseLabels([]string{"team=a", "example.com/tier=", "team=b"})
	if err != nil || !reflect.DeepEqual(labels, map[string]string{"team": "b", "example.com/tier": ""}) {
		t.Errorf("parseLabels = %v, %v", labels, err)
	}
	for _, bad := range []string{"noequals", "bad key=x", "k=bad value"} {
		if _, err := parseLabels([]string{bad}); err == nil {
			t.Errorf("parseLabels(%q): want an error", bad)
		}
	}

	taints, err := parseTaints([]string{"gpu=true:NoSchedule", "maintenance:NoExecute"})
	want := []corev1.Taint{{Key: "gpu", Value: "true", Effect: "NoSchedule"}, {Key: "maintenance", Effect: "NoExecute"}}
	if err != nil || !reflect.DeepEqual(taints, want) {
		t.Errorf("parseTaints = %v, %v; want %v", taints, err, want)
	}
	for _, bad := range []string{"gpu=true", "gpu=true:Sometimes", ":NoSchedule"} {
		if _, err := parseTaints([]string{bad}); err == nil {
			t.Errorf("parseTaints(%q): want an error", bad)
		}
	}

	fails, err := parseFailures([]string{"hollow-node-1@30s", "hollow-node-2"}, "hollow-node-", 3)
	if err != nil || !reflect.DeepEqual(fails, []failure{{"hollow-node-1", 30 * time.Second}, {"hollow-node-2", 0}}) {
		t.Errorf("parseFailures = %v, %v", fails, err)
	}
	for _, bad := range []string{"hollow-node-3", "hollow-node-01", "other-0", "hollow-node-1@soon", "hollow-node-1@-1s"} {
		if _, err := parseFailures([]string{bad}, "hollow-node-", 3); err == nil {
			t.Errorf("parseFailures(%q): want an error", bad)
		}
	}
}

func TestHollowNodesHelpTeaches(t *testing.T) {
	out, err := run(t, context.Background(), "hollow-nodes", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kubemark", "kwok", "kube-node-lease", "--fail hollow-node-1@30s", "kubectl create deployment", "--keep"} {
		if !strings.Contains(out, want) {
			t.Errorf("hollow-nodes --help does not mention %q", want)
		}
	}
}

// TestHollowNodesCommand runs the command against a real API server: two
// nodes register, one fails at once, and Ctrl-C deletes them.
func TestHollowNodesCommand(t *testing.T) {
	cp, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	kube := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmdCtx, stop := context.WithCancel(ctx)
	out := &syncBuffer{}
	errc := make(chan error, 1)
	go func() {
		cmd := NewRootCommand(Streams{In: strings.NewReader(""), Out: out, Err: out})
		cmd.SetArgs([]string{"hollow-nodes", "--kubeconfig", cp.AdminKubeconfig, "--count", "2", "--zones", "2",
			"--label", "team=a", "--fail", "hollow-node-1"})
		errc <- cmd.ExecuteContext(cmdCtx)
	}()
	for !strings.Contains(out.String(), "hollow-node-1 failed") {
		select {
		case err := <-errc:
			t.Fatalf("hollow-nodes exited early: %v\n%s", err, out)
		case <-ctx.Done():
			t.Fatalf("no failure reported:\n%s", out)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !strings.Contains(out.String(), "2/2 Ready") {
		t.Errorf("no progress line in:\n%s", out)
	}
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "type=hollow,team=a"})
	clustertest.Must(t, err)
	if len(nodes.Items) != 2 {
		t.Errorf("%d hollow nodes with team=a, want 2", len(nodes.Items))
	}
	stop()
	if err := <-errc; err != nil {
		t.Fatalf("hollow-nodes: %v\n%s", err, out)
	}
	nodes, err = kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	clustertest.Must(t, err)
	if len(nodes.Items) != 0 {
		t.Errorf("%d nodes left after Ctrl-C, want none (no --keep)", len(nodes.Items))
	}
	t.Logf("output:\n%s", out)
}
