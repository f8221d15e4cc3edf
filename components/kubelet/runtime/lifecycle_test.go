package runtime

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runc/libcontainer"
)

// TestRestartSurvival drops the Runtime (as a kubelet restart does) while
// containers run: one exits while no Runtime exists, one keeps running. A
// new Runtime over the same root sees the first one's exit code and can
// exec into, watch and stop the second.
func TestRestartSurvival(t *testing.T) {
	r1 := newTestRuntime(t)
	sb := newSandbox(t, r1, SandboxConfig{})
	short := start(t, r1, sb, basicConfig(t, "short", "sh", "-c", "sleep 0.2; exit 7"))
	long := start(t, r1, sb, basicConfig(t, "long", "sleep", "1000"))
	r1.Close()
	// short exits with no Runtime around: watch its monitor's state file.
	shortDir, _ := r1.containerDir(short.ID)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var ms monitorState
		if readJSON(filepath.Join(shortDir, "state.json"), &ms) == nil && ms.Exited {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("short did not exit")
		}
	}

	r2, err := New(Options{Root: r1.root, CgroupParent: r1.cgroupParent})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if st, err := r2.ContainerStatus(short.ID); err != nil || st.State != StateExited || st.ExitCode != 7 {
		t.Fatalf("short after restart: %+v, %v", st, err)
	}
	list, err := r2.ListContainers(sb.PodUID)
	if err != nil || len(list) != 2 || list[0].ID != short.ID || list[1].ID != long.ID || list[1].State != StateRunning {
		t.Fatalf("list after restart: %+v, %v", list, err)
	}
	if sbs, err := r2.ListSandboxes(); err != nil || len(sbs) != 1 || sbs[0].PodUID != sb.PodUID {
		t.Fatalf("sandboxes after restart: %+v, %v", sbs, err)
	}
	if out, _, code := execOutput(t, r2, long.ID, nil, "echo", "still here"); out != "still here\n" || code != 0 {
		t.Fatalf("exec after restart: %q %d", out, code)
	}
	if err := r2.StopContainer(long.ID, 0); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-r2.Events():
		if ev.ID != long.ID {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no exit event for an adopted container")
	}
	if st, _ := r2.ContainerStatus(long.ID); st.State != StateExited || st.ExitCode != 137 {
		t.Fatalf("long after stop: %+v", st)
	}
}

// TestTeardownLeavesNothing removes a sandbox with a running and an exited
// container and checks that no mount, cgroup, process, namespace file or
// directory of it remains.
func TestTeardownLeavesNothing(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{Resources: Resources{MemoryLimit: 64 << 20, CPUShares: 512, PidsLimit: 100}})
	done := start(t, r, sb, basicConfig(t, "done", "true"))
	waitExit(t, r, done.ID)
	running := start(t, r, sb, basicConfig(t, "running", "sh", "-c", "sleep 1000 & sleep 1000"))

	rec, err := r.readSandbox(sb.PodUID)
	if err != nil || len(rec.CgroupPaths) == 0 {
		t.Fatalf("sandbox record: %+v, %v", rec, err)
	}
	cgroupDirs := []string{}
	for _, p := range rec.CgroupPaths {
		cgroupDirs = append(cgroupDirs, p)
	}
	c, err := libcontainer.Load(r.lcRoot, running.ID)
	if err != nil {
		t.Fatal(err)
	}
	cst, err := c.State()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cst.CgroupPaths {
		cgroupDirs = append(cgroupDirs, p)
	}
	var ms monitorState
	dir, _ := r.containerDir(running.ID)
	if err := readJSON(filepath.Join(dir, "state.json"), &ms); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(mountinfo(t), r.root) {
		t.Fatal("no mounts under the runtime root before teardown: the check below would prove nothing")
	}

	if err := r.RemoveSandbox(sb.PodUID); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveSandbox(sb.PodUID); err != nil {
		t.Fatalf("second RemoveSandbox: %v", err)
	}
	if mi := mountinfo(t); strings.Contains(mi, r.root) {
		t.Errorf("mounts left under %s:\n%s", r.root, mi)
	}
	for _, d := range cgroupDirs {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("cgroup %s left", d)
		}
	}
	for _, pid := range []int{ms.MonitorPid, ms.Pid} {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("process %d left", pid)
		}
	}
	if _, err := os.Stat(sb.Dir); err == nil {
		t.Errorf("sandbox dir %s left", sb.Dir)
	}
	if ents, _ := os.ReadDir(r.lcRoot); len(ents) != 0 {
		t.Errorf("libcontainer state left: %v", ents)
	}
	if _, ok := r.Sandbox(sb.PodUID); ok {
		t.Error("removed sandbox still listed")
	}
}

func mountinfo(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// BenchmarkStartContainer measures StartContainer: monitor re-exec, overlay
// mount, libcontainer create + start, until the process runs.
func BenchmarkStartContainer(b *testing.B) {
	r := newTestRuntime(b)
	sb := newSandbox(b, r, SandboxConfig{})
	cfg := basicConfig(b, "bench", "true")
	b.ResetTimer()
	for i := range b.N {
		cfg.Attempt = i
		st, err := r.StartContainer(sb, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		waitExit(b, r, st.ID)
		if err := r.RemoveContainer(st.ID); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkStartDirect is the floor StartContainer is measured against: the
// monitor's own start path (overlay mount, libcontainer create + start) run
// in this process, without the monitor re-exec.
func BenchmarkStartDirect(b *testing.B) {
	r := newTestRuntime(b)
	sb := newSandbox(b, r, SandboxConfig{})
	cfg := basicConfig(b, "direct", "true")
	log := slog.New(slog.DiscardHandler)
	b.ResetTimer()
	for i := range b.N {
		cfg.Attempt = i
		b.StopTimer()
		_, dir, err := r.prepareContainer(sb, cfg)
		if err != nil {
			b.Fatal(err)
		}
		m := &monitor{dir: dir, log: log}
		if err := readJSON(filepath.Join(dir, "config.json"), &m.rec); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c, err := m.start()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		c.wait()
		c.cleanup()
		b.StartTimer()
	}
}
