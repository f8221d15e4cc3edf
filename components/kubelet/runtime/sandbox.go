package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// sandboxRecord is sandbox.json.
type sandboxRecord struct {
	Sandbox Sandbox       `json:"sandbox"`
	Config  SandboxConfig `json:"config"`
	// CgroupPaths are the pod cgroup's absolute per-controller paths, so the
	// cgroup can be removed even if the kubelet's own cgroup has changed.
	CgroupPaths map[string]string `json:"cgroupPaths"`
}

// CreateSandbox creates a pod's namespaces and cgroup. It is idempotent: for
// a PodUID whose sandbox exists and whose namespaces are still pinned, it
// returns that sandbox unchanged. A sandbox whose namespace files lost their
// mounts (the node rebooted) is removed and created again.
func (r *Runtime) CreateSandbox(cfg SandboxConfig) (*Sandbox, error) {
	if cfg.PodUID == "" || filepath.Base(cfg.PodUID) != cfg.PodUID || cfg.PodUID == "." || cfg.PodUID == ".." {
		return nil, fmt.Errorf("sandbox pod uid %q: invalid", cfg.PodUID)
	}
	l := r.podLock(cfg.PodUID)
	l.Lock()
	defer l.Unlock()

	if rec, err := r.readSandbox(cfg.PodUID); err == nil {
		if sandboxPinned(&rec.Sandbox) {
			return &rec.Sandbox, nil
		}
		if err := r.removeSandbox(cfg.PodUID); err != nil {
			return nil, fmt.Errorf("recreate stale sandbox %s: %w", cfg.PodUID, err)
		}
	}

	dir := r.podDir(cfg.PodUID)
	sb := Sandbox{
		PodUID: cfg.PodUID, Namespace: cfg.Namespace, Name: cfg.Name,
		UTSNS: filepath.Join(dir, "ns", "uts"), IPCNS: filepath.Join(dir, "ns", "ipc"),
		Dir: dir, Created: time.Now(),
	}
	if !cfg.HostNetwork {
		sb.NetNS = filepath.Join(dir, "ns", "net")
	}
	rec := sandboxRecord{Sandbox: sb, Config: cfg}
	fail := func(err error) (*Sandbox, error) {
		// Write what we have so removeSandbox finds the cgroup paths.
		_ = writeJSONAtomic(filepath.Join(dir, "sandbox.json"), rec)
		if rerr := r.removeSandbox(cfg.PodUID); rerr != nil {
			r.log.Warn("clean up failed sandbox", "pod", cfg.PodUID, "err", rerr)
		}
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "containers"), 0o700); err != nil {
		return nil, fmt.Errorf("sandbox %s: %w", cfg.PodUID, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "ns"), 0o700); err != nil {
		return fail(fmt.Errorf("sandbox %s: %w", cfg.PodUID, err))
	}
	if err := pinNamespaces(&sb, cfg.Hostname); err != nil {
		return fail(fmt.Errorf("sandbox %s: %w", cfg.PodUID, err))
	}
	paths, err := r.createPodCgroup(cfg.PodUID, cfg.Resources)
	rec.CgroupPaths = paths
	if err != nil {
		return fail(err)
	}
	if err := writeJSONAtomic(filepath.Join(dir, "sandbox.json"), rec); err != nil {
		return fail(fmt.Errorf("sandbox %s: %w", cfg.PodUID, err))
	}
	return &sb, nil
}

// pinNamespaces creates new uts, ipc (and net) namespaces on a locked OS
// thread and bind-mounts them onto files, as `ip netns add` does, then moves
// the thread back to its old namespaces. If it cannot, the thread stays
// locked and the Go runtime ends it with its goroutine (or, for the main
// thread, never schedules on it again).
func pinNamespaces(sb *Sandbox, hostname string) error {
	type pin struct {
		kind, file string
		flag       int
	}
	pins := []pin{{"uts", sb.UTSNS, unix.CLONE_NEWUTS}, {"ipc", sb.IPCNS, unix.CLONE_NEWIPC}}
	if sb.NetNS != "" {
		pins = append(pins, pin{"net", sb.NetNS, unix.CLONE_NEWNET})
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		var olds []*os.File
		defer func() {
			for _, f := range olds {
				f.Close()
			}
		}()
		flags := 0
		for _, p := range pins {
			f, err := os.Open("/proc/thread-self/ns/" + p.kind)
			if err != nil {
				runtime.UnlockOSThread()
				errc <- fmt.Errorf("open own %s namespace: %w", p.kind, err)
				return
			}
			olds = append(olds, f)
			flags |= p.flag
		}
		if err := unix.Unshare(flags); err != nil {
			errc <- fmt.Errorf("unshare namespaces: %w", err)
			return
		}
		errc <- func() error {
			if hostname != "" {
				if err := unix.Sethostname([]byte(hostname)); err != nil {
					return fmt.Errorf("set hostname %q: %w", hostname, err)
				}
			}
			for _, p := range pins {
				f, err := os.OpenFile(p.file, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o600)
				if err != nil {
					return fmt.Errorf("create %s namespace file: %w", p.kind, err)
				}
				f.Close()
				src := "/proc/thread-self/ns/" + p.kind
				if err := unix.Mount(src, p.file, "none", unix.MS_BIND, ""); err != nil {
					return fmt.Errorf("bind %s onto %s: %w", src, p.file, err)
				}
			}
			return nil
		}()
		for i, p := range pins {
			if err := unix.Setns(int(olds[i].Fd()), p.flag); err != nil {
				return // stay locked: the thread dies with this goroutine
			}
		}
		runtime.UnlockOSThread()
	}()
	return <-errc
}

// sandboxPinned reports whether the sandbox's namespace files are still
// bind mounts of namespaces (a reboot leaves plain empty files behind).
func sandboxPinned(sb *Sandbox) bool {
	for _, f := range []string{sb.NetNS, sb.UTSNS, sb.IPCNS} {
		if f == "" {
			continue
		}
		var st unix.Statfs_t
		if err := unix.Statfs(f, &st); err != nil || st.Type != unix.NSFS_MAGIC {
			return false
		}
	}
	return true
}

func (r *Runtime) readSandbox(podUID string) (sandboxRecord, error) {
	var rec sandboxRecord
	err := readJSON(filepath.Join(r.podDir(podUID), "sandbox.json"), &rec)
	return rec, err
}

// Sandbox returns the sandbox of podUID, if it exists.
func (r *Runtime) Sandbox(podUID string) (*Sandbox, bool) {
	rec, err := r.readSandbox(podUID)
	if err != nil {
		return nil, false
	}
	return &rec.Sandbox, true
}

// ListSandboxes returns every sandbox on disk, oldest first.
func (r *Runtime) ListSandboxes() ([]Sandbox, error) {
	ents, err := os.ReadDir(filepath.Join(r.root, "pods"))
	if err != nil {
		return nil, fmt.Errorf("list sandboxes: %w", err)
	}
	var out []Sandbox
	for _, e := range ents {
		rec, err := r.readSandbox(e.Name())
		if err != nil {
			continue // being created or removed
		}
		out = append(out, rec.Sandbox)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// RemoveSandbox kills and removes all of the pod's containers, unpins its
// namespaces and removes its cgroup and directory. Removing a sandbox that
// does not exist is not an error.
func (r *Runtime) RemoveSandbox(podUID string) error {
	l := r.podLock(podUID)
	l.Lock()
	defer l.Unlock()
	return r.removeSandbox(podUID)
}

func (r *Runtime) removeSandbox(podUID string) error {
	dir := r.podDir(podUID)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var errs []error
	statuses, err := r.ListContainers(podUID)
	if err != nil {
		errs = append(errs, err)
	}
	for _, st := range statuses {
		if st.State == StateRunning || st.State == StateCreated {
			if err := r.StopContainer(st.ID, 0); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := r.RemoveContainer(st.ID); err != nil {
			errs = append(errs, err)
		}
	}
	rec, _ := r.readSandbox(podUID)
	for _, kind := range []string{"net", "uts", "ipc"} {
		f := filepath.Join(dir, "ns", kind)
		if err := unix.Unmount(f, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", f, err))
		}
	}
	if err := removePodCgroup(rec.CgroupPaths); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("remove sandbox dir: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove sandbox %s: %w", podUID, err)
	}
	return nil
}
