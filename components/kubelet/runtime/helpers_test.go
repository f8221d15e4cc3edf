package runtime

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"golang.org/x/sys/unix"

	"github.com/kubelab/kubelab/components/kubelet/crilog"
)

// busyboxRootfs is an image layer with a static busybox, built once.
var busyboxRootfs string

func TestMain(m *testing.M) {
	code := func() int {
		if os.Geteuid() == 0 {
			dir, err := buildBusyboxLayer()
			if err != nil {
				fmt.Fprintln(os.Stderr, "build busybox layer:", err)
				return 1
			}
			defer os.RemoveAll(dir)
			busyboxRootfs = dir
		}
		return m.Run()
	}()
	os.Exit(code)
}

// buildBusyboxLayer makes a directory with /bin/busybox and one relative
// symlink per applet, plus the directories a rootfs needs.
func buildBusyboxLayer() (string, error) {
	dir, err := os.MkdirTemp("", "kubelab-runtime-layer-")
	if err != nil {
		return "", err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "", err
	}
	if st.Flags&unix.ST_NOEXEC != 0 {
		return "", fmt.Errorf("%s is on a noexec mount", dir)
	}
	for _, d := range []string{"bin", "etc", "tmp", "proc", "sys", "dev"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return "", err
		}
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return "", fmt.Errorf("busybox-static must be installed: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), bb, 0o755); err != nil {
		return "", err
	}
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return "", fmt.Errorf("busybox --list: %w", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts, namespaces and cgroups")
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newTestRuntime returns a Runtime over a fresh root and cgroup parent, and
// removes every sandbox and the cgroup parent when the test ends.
func newTestRuntime(t testing.TB) *Runtime {
	t.Helper()
	requireRoot(t)
	root := t.TempDir()
	parent := "kubelab-runtime-test-" + randHex(4)
	r, err := New(Options{Root: root, CgroupParent: parent})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r2, err := New(Options{Root: root, CgroupParent: parent})
		if err == nil {
			sbs, _ := r2.ListSandboxes()
			for _, sb := range sbs {
				if err := r2.RemoveSandbox(sb.PodUID); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			}
			r2.Close()
		}
		r.Close()
		m, err := manager.New(&cgroups.Cgroup{Path: parent, Resources: &cgroups.Resources{}})
		if err == nil {
			_ = m.Destroy()
		}
	})
	return r
}

func newSandbox(t testing.TB, r *Runtime, cfg SandboxConfig) *Sandbox {
	t.Helper()
	if cfg.PodUID == "" {
		cfg.PodUID = "pod-" + randHex(6)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "testpod"
	}
	sb, err := r.CreateSandbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

// basicConfig is a container running args in the busybox layer, logging
// under the test's temp dir.
func basicConfig(t testing.TB, name string, args ...string) ContainerConfig {
	return ContainerConfig{
		Name: name, Image: "busybox", LowerDirs: []string{busyboxRootfs},
		Args: args, LogPath: filepath.Join(t.TempDir(), name+".log"),
	}
}

func start(t testing.TB, r *Runtime, sb *Sandbox, cfg ContainerConfig) ContainerStatus {
	t.Helper()
	st, err := r.StartContainer(sb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func waitExit(t testing.TB, r *Runtime, id string) ContainerStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := r.Wait(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateExited {
		t.Fatalf("container %s: state %s after Wait", id, st.State)
	}
	return st
}

// logLines parses a CRI log file into "stream content" strings.
func logLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		rec, err := crilog.Parse(s.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec.Stream+" "+string(rec.Content))
	}
	return out
}

// waitLogged polls a container's log file until it holds a line ending in
// want: how a test knows a shell got past its setup (a trap, say), which
// "running" alone does not say.
func waitLogged(t testing.TB, path, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), " "+want+"\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log %s never had %q: %q", path, want, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func execOutput(t testing.TB, r *Runtime, id string, stdin io.Reader, cmd ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, err := r.Exec(ctx, id, ExecConfig{Cmd: cmd, Stdin: stdin, Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}
