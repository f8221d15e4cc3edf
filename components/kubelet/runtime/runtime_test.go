package runtime

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEchoLogsAndCompletes(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{})
	cfg := basicConfig(t, "echo", "sh", "-c", "echo hello; echo oops >&2")
	st := start(t, r, sb, cfg)
	if st.ID != sb.PodUID+"_echo_0" || st.State == StateUnknown {
		t.Fatalf("start status = %+v", st)
	}
	st = waitExit(t, r, st.ID)
	if st.ExitCode != 0 || st.Reason != "Completed" || st.FinishedAt.Before(st.StartedAt) {
		t.Fatalf("status = %+v", st)
	}
	got := logLines(t, cfg.LogPath)
	slices.Sort(got)
	if want := []string{"stderr oops", "stdout hello"}; !slices.Equal(got, want) {
		t.Fatalf("log = %q, want %q", got, want)
	}
}

func TestExitCode(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{})
	st := waitExit(t, r, start(t, r, sb, basicConfig(t, "three", "sh", "-c", "exit 3")).ID)
	if st.ExitCode != 3 || st.Reason != "Error" {
		t.Fatalf("status = %+v", st)
	}
	// A command that cannot be executed fails StartContainer and is
	// recorded as a StartError.
	_, err := r.StartContainer(sb, basicConfig(t, "missing", "/no/such/binary"))
	if err == nil {
		t.Fatal("start of a missing binary succeeded")
	}
	st, err = r.ContainerStatus(sb.PodUID + "_missing_0")
	if err != nil || st.State != StateExited || st.Reason != "StartError" || st.ExitCode != 128 {
		t.Fatalf("status = %+v, %v", st, err)
	}
}

func TestSandboxSharesNamespaces(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{Hostname: "shared-host"})
	again, err := r.CreateSandbox(SandboxConfig{PodUID: sb.PodUID})
	if err != nil || again.NetNS != sb.NetNS || !again.Created.Equal(sb.Created) {
		t.Fatalf("CreateSandbox is not idempotent: %+v, %v", again, err)
	}
	shared := t.TempDir()
	script := `echo "$(readlink /proc/self/ns/net) $(readlink /proc/self/ns/uts) $(readlink /proc/self/ns/ipc) $(hostname)" > /shared/$NAME`
	for _, name := range []string{"a", "b"} {
		cfg := basicConfig(t, name, "sh", "-c", script)
		cfg.Env = []string{"NAME=" + name}
		cfg.Mounts = []Mount{{Source: shared, Destination: "/shared"}}
		if st := waitExit(t, r, start(t, r, sb, cfg).ID); st.ExitCode != 0 {
			t.Fatalf("%s: %+v", name, st)
		}
	}
	a, _ := os.ReadFile(filepath.Join(shared, "a"))
	b, _ := os.ReadFile(filepath.Join(shared, "b"))
	host, _ := os.Readlink("/proc/self/ns/net")
	if len(a) == 0 || string(a) != string(b) || strings.Contains(string(a), host) || !strings.HasSuffix(string(a), " shared-host\n") {
		t.Fatalf("a = %q, b = %q (host net %s)", a, b, host)
	}
}

func TestHostNetwork(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{HostNetwork: true})
	if sb.NetNS != "" {
		t.Fatalf("host network sandbox has netns %q", sb.NetNS)
	}
	shared := t.TempDir()
	cfg := basicConfig(t, "n", "sh", "-c", "readlink /proc/self/ns/net > /shared/net")
	cfg.Mounts = []Mount{{Source: shared, Destination: "/shared"}}
	waitExit(t, r, start(t, r, sb, cfg).ID)
	got, _ := os.ReadFile(filepath.Join(shared, "net"))
	host, _ := os.Readlink("/proc/self/ns/net")
	if strings.TrimSpace(string(got)) != host {
		t.Fatalf("container net ns %q, host %q", got, host)
	}
}

func TestUserMountsAndWorkingDir(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{})
	dir := t.TempDir()
	file := filepath.Join(dir, "hosts")
	if err := os.WriteFile(file, []byte("10.0.0.1 me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := basicConfig(t, "m", "sh", "-c", "pwd; id; cat /etc/kubelab/hosts; touch /ro/x 2>/dev/null || echo ro")
	cfg.WorkingDir = "/work/deep"
	cfg.UID, cfg.GID, cfg.AdditionalGIDs = 1000, 1001, []uint32{2000}
	cfg.Mounts = []Mount{
		{Source: file, Destination: "/etc/kubelab/hosts", ReadOnly: true},
		{Source: dir, Destination: "/ro", ReadOnly: true},
	}
	st := waitExit(t, r, start(t, r, sb, cfg).ID)
	got := logLines(t, cfg.LogPath)
	want := []string{"stdout /work/deep", "stdout uid=1000 gid=1001 groups=2000", "stdout 10.0.0.1 me", "stdout ro"}
	if st.ExitCode != 0 || !slices.Equal(got, want) {
		t.Fatalf("status %+v, log %q, want %q", st, got, want)
	}
}

func TestOOMKilled(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{})
	cfg := basicConfig(t, "hog", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
	cfg.Resources.MemoryLimit = 16 << 20
	st := waitExit(t, r, start(t, r, sb, cfg).ID)
	if st.ExitCode != 137 || st.Reason != "OOMKilled" {
		t.Fatalf("status = %+v", st)
	}
}

func TestStop(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{})
	// PID 1 without a TERM handler ignores TERM: killed after the grace.
	stubborn := start(t, r, sb, basicConfig(t, "stubborn", "sleep", "1000"))
	politeCfg := basicConfig(t, "polite", "sh", "-c", `trap "exit 0" TERM; echo trapped; while true; do sleep 0.05; done`)
	polite := start(t, r, sb, politeCfg)
	t0 := time.Now()
	if err := r.StopContainer(stubborn.ID, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 300*time.Millisecond || d > 5*time.Second {
		t.Errorf("stubborn stop took %v", d)
	}
	if st, _ := r.ContainerStatus(stubborn.ID); st.State != StateExited || st.ExitCode != 137 {
		t.Fatalf("stubborn: %+v", st)
	}
	waitLogged(t, politeCfg.LogPath, "trapped") // a TERM before the trap is ignored
	t0 = time.Now()
	if err := r.StopContainer(polite.ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("polite stop took %v", d)
	}
	if st, _ := r.ContainerStatus(polite.ID); st.State != StateExited || st.ExitCode != 0 {
		t.Fatalf("polite: %+v", st)
	}
	if err := r.StopContainer(polite.ID, time.Second); err != nil {
		t.Fatalf("stop of an exited container: %v", err)
	}
	if err := r.RemoveContainer(polite.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ContainerStatus(polite.ID); err == nil {
		t.Fatal("removed container still has a status")
	}
}

func TestExec(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{})
	c := start(t, r, sb, basicConfig(t, "c", "sleep", "1000"))
	out, errOut, code := execOutput(t, r, c.ID, nil, "sh", "-c", "echo out; echo err >&2; exit 5")
	if out != "out\n" || errOut != "err\n" || code != 5 {
		t.Fatalf("exec = %q %q %d", out, errOut, code)
	}
	out, _, code = execOutput(t, r, c.ID, strings.NewReader("abc"), "cat")
	if out != "abc" || code != 0 {
		t.Fatalf("exec cat = %q %d", out, code)
	}
	// The exec sees the container's pid namespace: sleep is PID 1.
	out, _, _ = execOutput(t, r, c.ID, nil, "cat", "/proc/1/comm")
	if out != "sleep\n" {
		t.Fatalf("pid 1 is %q", out)
	}
	st, err := r.Stats(c.ID)
	if err != nil || st.CPUUsageNanos == 0 || st.MemoryUsageBytes == 0 || st.Pids == 0 {
		t.Fatalf("stats = %+v, %v", st, err)
	}
}

// TestExecOneWriter: one writer for stdout and stderr (what an exec probe
// passes) gets everything. Two copies into one bytes.Buffer used to race
// in its ReadFrom and lost the error message in about a third of runs,
// so readiness events said "Readiness probe failed: " and nothing more.
func TestExecOneWriter(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{})
	c := start(t, r, sb, basicConfig(t, "c", "sleep", "1000"))
	for i := range 30 {
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		code, err := r.Exec(ctx, c.ID, ExecConfig{Cmd: []string{"sh", "-c", "cat /nonexistent"}, Stdout: &out, Stderr: &out})
		cancel()
		if err != nil || code != 1 || !strings.Contains(out.String(), "can't open '/nonexistent'") {
			t.Fatalf("run %d: exit %d, err %v, output %q; want 1 and cat's message", i, code, err, out.String())
		}
	}
}

func TestExecTTY(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{})
	c := start(t, r, sb, basicConfig(t, "c", "sleep", "1000"))
	resize := make(chan TerminalSize, 1)
	resize <- TerminalSize{Width: 91, Height: 33}
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, err := r.Exec(ctx, c.ID, ExecConfig{
		Cmd: []string{"sh", "-c", "sleep 0.2; tty; stty size; exit 4"}, TTY: true, Stdout: &out, Resize: resize,
	})
	close(resize)
	if err != nil || code != 4 {
		t.Fatalf("exec: %d, %v", code, err)
	}
	if !strings.Contains(out.String(), "/dev/pts/") || !strings.Contains(out.String(), "33 91") {
		t.Fatalf("tty output %q", out.String())
	}
}

func TestTTYContainer(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{})
	cfg := basicConfig(t, "tty", "sh", "-c", "tty")
	cfg.TTY = true
	st := waitExit(t, r, start(t, r, sb, cfg).ID)
	got := logLines(t, cfg.LogPath)
	if st.ExitCode != 0 || len(got) != 1 || !strings.HasPrefix(got[0], "stdout /dev/pts/") {
		t.Fatalf("status %+v, log %q", st, got)
	}
}

func TestEvents(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{})
	c := start(t, r, sb, basicConfig(t, "quick", "true"))
	select {
	case ev := <-r.Events():
		if ev.ID != c.ID || ev.PodUID != sb.PodUID {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit event")
	}
	if st, _ := r.ContainerStatus(c.ID); st.State != StateExited {
		t.Fatalf("after event: %+v", st)
	}
}
