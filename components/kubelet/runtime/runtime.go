package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Options configure a Runtime.
type Options struct {
	// Root is the state directory (e.g. <kubelet-root>/runtime). It must be
	// on a filesystem that allows exec and overlayfs upper dirs.
	Root string
	// CgroupParent is where pod cgroups go, e.g. "kubelab/<node-name>".
	// Relative: it nests under the kubelet's own cgroup (v1: per
	// controller; v2: under the parent of the kubelet's cgroup, which must
	// then have no processes of its own). Absolute: from the cgroup root.
	CgroupParent string
	// Logger receives the runtime's own warnings; nil means slog.Default().
	Logger *slog.Logger
	// MonitorBinary is the program started as each container's monitor
	// (and, through libcontainer, as its init). Empty: FindMonitorBinary.
	MonitorBinary string
}

// Event says a container exited: its monitor has recorded the exit code and
// cleaned up, so ContainerStatus reports StateExited and RemoveContainer may
// run.
type Event struct {
	PodUID string
	ID     string
}

// Runtime runs pod sandboxes and containers. Its methods are safe for
// concurrent use; everything it knows lives on disk under Options.Root, so a
// new Runtime over the same Root picks up where an old one (or an old
// kubelet process) left off.
type Runtime struct {
	root         string
	cgroupParent string
	lcRoot       string
	log          *slog.Logger

	events chan Event
	done   chan struct{}
	close  sync.Once

	mu sync.Mutex
	// exited holds, for each container whose monitor is running, a channel
	// closed when the monitor exits.
	exited map[string]chan struct{}
	// starting marks containers whose monitor has not yet reported: their
	// config.json exists but state.json may not.
	starting map[string]bool
	// spare is a monitor started ahead of time (see spawn.go).
	spare *monitorProc
	// podLocks serialise sandbox create/remove per pod.
	podLocks map[string]*sync.Mutex
	// monitorBin is what startMonitorProc executes.
	monitorBin string
}

// New opens (or creates) the runtime state under opts.Root and re-adopts the
// containers whose monitors are still running.
func New(opts Options) (*Runtime, error) {
	if opts.Root == "" {
		return nil, errors.New("runtime root: empty")
	}
	if opts.CgroupParent == "" {
		return nil, errors.New("runtime cgroup parent: empty")
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("runtime root %q: %w", opts.Root, err)
	}
	r := &Runtime{
		root:         root,
		cgroupParent: opts.CgroupParent,
		lcRoot:       filepath.Join(root, "libcontainer"),
		log:          opts.Logger,
		events:       make(chan Event, 256),
		done:         make(chan struct{}),
		exited:       map[string]chan struct{}{},
		starting:     map[string]bool{},
		podLocks:     map[string]*sync.Mutex{},
		monitorBin:   opts.MonitorBinary,
	}
	if r.monitorBin == "" {
		r.monitorBin = FindMonitorBinary()
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	for _, d := range []string{filepath.Join(root, "pods"), r.lcRoot} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("runtime root: %w", err)
		}
	}
	if err := r.adoptAll(); err != nil {
		return nil, err
	}
	go r.refillSpare()
	return r, nil
}

// Close stops delivering events. Containers keep running; their monitors
// are independent of the Runtime.
func (r *Runtime) Close() error {
	r.close.Do(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		close(r.done)
		if r.spare != nil {
			r.spare.discard()
			r.spare = nil
		}
	})
	return nil
}

// Events delivers one Event per container exit observed by this Runtime
// (including containers adopted from disk by New). Exits are reported within
// milliseconds: a goroutine per running container waits on its monitor.
// The channel is buffered; a slow reader delays only the reporting
// goroutines, and a pod worker should still re-list now and then.
func (r *Runtime) Events() <-chan Event { return r.events }

// Wait blocks until container id has exited (or ctx ends) and returns its
// final status.
func (r *Runtime) Wait(ctx context.Context, id string) (ContainerStatus, error) {
	r.mu.Lock()
	ch := r.exited[id]
	r.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
			return ContainerStatus{}, fmt.Errorf("wait for container %s: %w", id, ctx.Err())
		}
	}
	return r.ContainerStatus(id)
}

func (r *Runtime) podDir(podUID string) string { return filepath.Join(r.root, "pods", podUID) }

func (r *Runtime) containerDir(id string) (string, error) {
	podUID, name, attempt, err := parseID(id)
	if err != nil {
		return "", err
	}
	return filepath.Join(r.podDir(podUID), "containers", fmt.Sprintf("%s_%d", name, attempt)), nil
}

func (r *Runtime) podLock(podUID string) *sync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.podLocks[podUID]
	if l == nil {
		l = &sync.Mutex{}
		r.podLocks[podUID] = l
	}
	return l
}

// watch registers a running container and returns the channel its watcher
// closes. wait blocks until the monitor exits.
func (r *Runtime) watch(podUID, id string, wait func()) chan struct{} {
	ch := make(chan struct{})
	r.mu.Lock()
	r.exited[id] = ch
	r.mu.Unlock()
	go func() {
		wait()
		r.mu.Lock()
		if r.exited[id] == ch {
			delete(r.exited, id)
		}
		r.mu.Unlock()
		close(ch)
		select {
		case r.events <- Event{PodUID: podUID, ID: id}:
		case <-r.done:
		}
	}()
	return ch
}

// waitPidfd blocks until process pid exits. pidfd works for processes that
// are not our children (monitors adopted after a kubelet restart); the
// start time check guards against pid reuse between reading state.json and
// opening the pidfd.
func waitPidfd(pid int, start uint64) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // already gone
	}
	defer unix.Close(fd)
	if !processAlive(pid, start) {
		return
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == nil || !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// adoptAll starts watchers for every container whose monitor still runs.
func (r *Runtime) adoptAll() error {
	pods, err := os.ReadDir(filepath.Join(r.root, "pods"))
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	for _, p := range pods {
		cs, err := os.ReadDir(filepath.Join(r.root, "pods", p.Name(), "containers"))
		if err != nil {
			continue
		}
		for _, c := range cs {
			var st monitorState
			if err := readJSON(filepath.Join(r.root, "pods", p.Name(), "containers", c.Name(), "state.json"), &st); err != nil {
				continue
			}
			if st.Exited || !processAlive(st.MonitorPid, st.MonitorStart) {
				continue
			}
			id := p.Name() + "_" + c.Name()
			r.watch(p.Name(), id, func() { waitPidfd(st.MonitorPid, st.MonitorStart) })
		}
	}
	return nil
}
