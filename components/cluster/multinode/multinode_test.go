// Package multinode holds the end-to-end tests that need several real
// nodes: clusters made by cluster.CreateNetnsCluster (what `kubelab cluster
// create` runs), with a kubelet per network-namespace node. They need root;
// TestMain builds the kubelab, kubelet and testserver binaries once.
package multinode

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/kubelab/kubelab/components/cluster"
)

var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Geteuid() != 0 || testing.Short() {
		// Tests skip themselves with the reason.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "kubelab-multinode-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := buildBinaries(dir); err != nil {
		fmt.Fprintln(os.Stderr, "multinode:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinaries builds what a node runs: kubelab (the control plane is
// `kubelab up --no-kubelet`), kubelet and the static testserver.
func buildBinaries(dir string) error {
	goBin := filepath.Join(goruntime.GOROOT(), "bin", "go")
	_, file, _, _ := goruntime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..", "..")
	for _, b := range []struct {
		pkg string
		env []string
		out string
	}{
		{"./cmd/kubelab", []string{"CGO_ENABLED=1"}, "kubelab"},
		{"./cmd/kubelet", []string{"CGO_ENABLED=1"}, "kubelet"},
		{"./cmd/kubelab-monitor", []string{"CGO_ENABLED=1"}, "kubelab-monitor"},
		{"./cmd/testserver", []string{"CGO_ENABLED=0"}, "testserver"},
	} {
		cmd := exec.Command(goBin, "build", "-o", filepath.Join(dir, b.out), b.pkg)
		cmd.Dir, cmd.Env = repo, append(os.Environ(), b.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", b.pkg, err, out)
		}
	}
	return nil
}

// testCluster is a running network-namespace cluster and a client for it.
type testCluster struct {
	*cluster.NetnsCluster
	cfg  *rest.Config
	kube kubernetes.Interface
}

// newCluster creates a cluster for one test, deleted (and checked clean)
// when the test ends. Subnets differ per test so clusters never collide.
func newCluster(t *testing.T, name, network, subnet string, nodes int) *testCluster {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, a bridge, kubelets running containers")
	}
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t.Setenv("KUBELAB_TESTSERVER", filepath.Join(binDir, "testserver"))
	c, err := cluster.CreateNetnsCluster(ctx, cluster.NetnsOptions{
		Name: name, Nodes: nodes, Network: network, Subnet: subnet,
		Dir:           filepath.Join(t.TempDir(), name),
		KubelabBinary: filepath.Join(binDir, "kubelab"), KubeletBinary: filepath.Join(binDir, "kubelet"),
		ReadyTimeout: time.Minute,
	})
	if err != nil {
		t.Fatalf("create cluster %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := c.Delete(context.Background()); err != nil {
			t.Errorf("delete cluster %s: %v", name, err)
		}
		for _, n := range c.Nodes {
			if _, err := os.Lstat("/var/run/netns/" + n.Netns); err == nil {
				t.Errorf("network namespace %s left behind", n.Netns)
			}
		}
		if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil && bytes.Contains(data, []byte(c.Dir)) {
			t.Errorf("mounts left under %s", c.Dir)
		}
	})
	cfg, err := clientcmd.BuildConfigFromFlags("", c.AdminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return &testCluster{NetnsCluster: c, cfg: cfg, kube: kubernetes.NewForConfigOrDie(cfg)}
}

// exec runs cmd in the pod's first container and returns its stdout.
func (c *testCluster) exec(t *testing.T, ns, pod string, cmd ...string) (string, error) {
	t.Helper()
	req := c.kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(c.cfg, "POST", req.URL())
	if err != nil {
		return "", err
	}
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errb})
	if err != nil {
		return out.String(), fmt.Errorf("exec %v in %s/%s: %w (stderr %q)", cmd, ns, pod, err, errb.String())
	}
	return out.String(), nil
}

// runningPods waits until the selector matches want Running+Ready pods.
func (c *testCluster) runningPods(t *testing.T, ns, selector string, want int) []corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var last []corev1.Pod
	for {
		list, err := c.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err == nil {
			var ready []corev1.Pod
			for _, p := range list.Items {
				if p.Status.Phase == corev1.PodRunning && podReady(&p) {
					ready = append(ready, p)
				}
			}
			last = list.Items
			if len(ready) == want {
				return ready
			}
		}
		select {
		case <-ctx.Done():
			var states []string
			for _, p := range last {
				states = append(states, fmt.Sprintf("%s %s on %s %v", p.Name, p.Status.Phase, p.Spec.NodeName, p.Status.ContainerStatuses))
			}
			t.Fatalf("want %d running pods for %s, have:\n%s", want, selector, strings.Join(states, "\n"))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
