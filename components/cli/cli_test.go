package cli

import (
	"github.com/vishvananda/netlink"

	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func run(t *testing.T, ctx context.Context, args ...string) (string, error) {
	t.Helper()
	out := &syncBuffer{}
	cmd := NewRootCommand(Streams{In: strings.NewReader(""), Out: out, Err: out})
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

func TestHelpTeaches(t *testing.T) {
	out, err := run(t, context.Background(), "up", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"embedded", "--reset", "kubectl get nodes", "--hollow-nodes", "explain", "etcdctl"} {
		if !strings.Contains(out, want) {
			t.Errorf("up --help does not mention %q", want)
		}
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	t.Setenv("KUBELAB_PORT", "notanumber")
	t.Setenv("HOME", t.TempDir())
	_, err := run(t, context.Background(), "up")
	if err == nil || !strings.Contains(err.Error(), "KUBELAB_PORT") {
		t.Fatalf("a bad KUBELAB_PORT must be reported by name, got %v", err)
	}
}

// TestUpRunsAndStops starts `kubelab up` for real, waits for its ready
// message, checks the kubeconfig it merged, and stops it like Ctrl-C does.
func TestUpRunsAndStops(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	_, err := netlink.LinkByName("cni0")
	haveCNI0 := err == nil
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		cmd := NewRootCommand(Streams{In: strings.NewReader(""), Out: out, Err: out})
		args := []string{"up", "--name", "citest", "--dir", filepath.Join(dir, "state"), "--port", "-1", "--etcd-port", "-1", "--kubeconfig", kubeconfig}
		if withKubelet := os.Geteuid() == 0 && !haveCNI0; !withKubelet {
			// Not root, or a `kubelab up` of the user's owns cni0.
			args = append(args, "--no-kubelet")
		}
		cmd.SetArgs(args)
		done <- cmd.ExecuteContext(ctx)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "Ready in") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("kubelab up not ready in 60s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	data, err := os.ReadFile(kubeconfig)
	if err != nil || !strings.Contains(string(data), "current-context: citest") {
		t.Errorf("kubeconfig %s has no current context citest: %v\n%s", kubeconfig, err, data)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("up ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("up did not stop within 30s of its context ending")
	}
	if os.Geteuid() != 0 || haveCNI0 {
		return // no kubelet ran: nothing to take down
	}
	// As root, up ran a kubelet, which leaves its network behind by design:
	// down removes it, the state and the context.
	if _, err := run(t, context.Background(), "down", "--name", "citest", "--dir", filepath.Join(dir, "state"), "--kubeconfig", kubeconfig); err != nil {
		t.Fatalf("down: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "state")); !os.IsNotExist(err) {
		t.Errorf("state dir still there after down: %v", err)
	}
	if _, err := netlink.LinkByName("cni0"); err == nil {
		t.Error("cni0 still there after down")
	}
	if data, _ := os.ReadFile(kubeconfig); strings.Contains(string(data), "citest") {
		t.Errorf("context citest still in the kubeconfig after down:\n%s", data)
	}
}
