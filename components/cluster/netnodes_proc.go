package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
)

// daemon is a background process of a network-namespace cluster (the
// control plane or a kubelet). It runs in its own session (Setsid), so it
// outlives `kubelab cluster create` and ignores the terminal's Ctrl-C;
// only `cluster delete` (or the API's Delete) stops it.
type daemon struct {
	id   procID
	done chan struct{} // closed when this process reaped it
}

// startDaemon starts bin with args and extra environment, output appended
// to logFile. While the starting process lives it reaps the child, so a
// stopped kubelet does not linger as a zombie in a long test run.
//
// With netnsFile set, the child is forked from a thread inside that
// network namespace, so it starts there: no window in which a kubelet
// could touch the host's network, whether or not its binary has the
// netnsenter hook. Unlike `ip netns exec`, its mount namespace stays the
// host's.
func startDaemon(bin string, args, env []string, logFile, netnsFile string) (*daemon, error) {
	if err := os.MkdirAll(filepath.Dir(logFile), 0o755); err != nil {
		return nil, fmt.Errorf("create log directory for %s: %w", logFile, err)
	}
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", logFile, err)
	}
	defer log.Close() // the child holds its own copy
	fmt.Fprintf(log, "\n=== %s %s %s\n", time.Now().Format(time.RFC3339), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	// A KUBELAB_NETNS of the caller's must not move the control plane.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBELAB_NETNS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := startIn(cmd, netnsFile); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	d := &daemon{id: procID{PID: cmd.Process.Pid}, done: make(chan struct{})}
	d.id.StartTime, _ = procStartTime(d.id.PID)
	go func() {
		_ = cmd.Wait()
		close(d.done)
	}()
	return d, nil
}

// startIn starts cmd from a locked OS thread that has entered the network
// namespace pinned at netnsFile ("" = this one). The thread goes back
// afterwards, or, if it cannot, stays locked and dies with its goroutine.
func startIn(cmd *exec.Cmd, netnsFile string) error {
	if netnsFile == "" {
		return cmd.Start()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("current network namespace: %w", err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(netnsFile)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open network namespace %s: %w", netnsFile, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("enter network namespace %s: %w", netnsFile, err)
			return
		}
		startErr := cmd.Start()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- startErr
	}()
	return <-errc
}

// procStartTime reads a process's start time (clock ticks after boot),
// field 22 of /proc/<pid>/stat. The command name (field 2) may contain
// spaces and parentheses, so fields are counted after its last ')'.
func procStartTime(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	state, fields, err := parseProcStat(data)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	if state == "Z" {
		return 0, fmt.Errorf("process %d is a zombie", pid)
	}
	return strconv.ParseUint(fields[18], 10, 64)
}

// parseProcStat returns the state (field 3) and the fields after it
// (field 4 onward) of a /proc/<pid>/stat line.
func parseProcStat(data []byte) (string, []string, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return "", nil, errors.New("no command name")
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return "", nil, errors.New("too few fields")
	}
	return f[0], f[1:], nil
}

// alive reports whether the process still runs and is the one recorded
// (not a later process that got the same pid). Zombies count as gone.
func (p procID) alive() bool {
	if p.PID <= 0 {
		return false
	}
	st, err := procStartTime(p.PID)
	if err != nil {
		return false
	}
	return p.StartTime == 0 || st == p.StartTime
}

// stopProcess sends SIGTERM, waits up to grace, then SIGKILL. It returns
// whether there was a process to stop.
func stopProcess(ctx context.Context, p procID, grace time.Duration) (bool, error) {
	if !p.alive() {
		return false, nil
	}
	_ = syscall.Kill(p.PID, syscall.SIGTERM)
	if waitGone(ctx, p, grace) {
		return true, nil
	}
	_ = syscall.Kill(p.PID, syscall.SIGKILL)
	if waitGone(ctx, p, 5*time.Second) {
		return true, nil
	}
	return true, fmt.Errorf("process %d still running after SIGKILL", p.PID)
}

// waitGone polls until the process is gone or d has passed.
func waitGone(ctx context.Context, p procID, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for p.alive() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// netnsInode is the inode identifying a network namespace, from a pinned
// namespace file or /proc/<pid>/ns/net.
func netnsInode(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// clusterProcesses lists the processes that belong to a cluster's nodes:
// those in a cgroup under marker ("/kubelab/<name>/") — containers and
// their monitors — or in one of the given network namespaces (the
// kubelets, and anything started from them).
func clusterProcesses(marker string, netns map[uint64]bool) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || pid == 1 || zombie(pid) {
			continue
		}
		if ino, err := netnsInode(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && netns[ino] {
			pids = append(pids, pid)
			continue
		}
		if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid)); err == nil && inCgroup(string(data), marker) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// zombie reports whether pid has exited and waits for its parent (or
// init) to reap it: a SIGKILL cannot make it any deader.
func zombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	state, _, err := parseProcStat(data)
	return err == nil && state == "Z"
}

// inCgroup reports whether any hierarchy line of a /proc/<pid>/cgroup
// file ("4:memory:/a/kubelab/x/node-0/pod") has marker in its path.
func inCgroup(procCgroup, marker string) bool {
	for line := range strings.SplitSeq(procCgroup, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && strings.Contains(parts[2]+"/", marker) {
			return true
		}
	}
	return false
}

// selfCgroupPaths lists this process's cgroup path in each hierarchy.
func selfCgroupPaths() []string {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && !seen[parts[2]] {
			seen[parts[2]] = true
			out = append(out, parts[2])
		}
	}
	return out
}

// logTail returns the last n lines of a log file, for error messages.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\n  | " + strings.Join(lines, "\n  | ")
}
