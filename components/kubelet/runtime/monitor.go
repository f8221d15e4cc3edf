package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"

	"github.com/kubelab/kubelab/components/kubelet/crilog"
)

// The monitor is the parent of one container's init process. It runs in its
// own session (so a Ctrl-C or the death of the kubelet does not reach it),
// mounts the rootfs, creates and starts the container, tells the kubelet the
// outcome on fd 3 (readyMsg), copies the container's output into the CRI
// log, waits for the exit, cleans up, records the exit in state.json and
// exits. Its exit is the kubelet's signal that the container is done.

// readyMsg is the monitor's one message to StartContainer.
type readyMsg struct {
	Pid   int    `json:"pid,omitempty"`
	Error string `json:"error,omitempty"`
}

// runMonitor is the monitor's main; args[0] is the container's directory.
func runMonitor(args []string) int {
	// Terminal and session signals are not for us: only the container's
	// exit ends a monitor.
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGPIPE)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if len(args) != 0 {
		log.Error("monitor: want no arguments", "args", args)
		return 2
	}
	ready := os.NewFile(3, "ready")
	dir, err := awaitAssignment(os.NewFile(4, "control"))
	if err != nil {
		log.Error("monitor: read assignment", "err", err)
		return 2
	}
	if dir == "" {
		return 0 // a spare the runtime no longer needs
	}
	m := &monitor{dir: dir, log: log}
	if err := m.run(ready); err != nil {
		log.Error("monitor", "dir", m.dir, "err", err)
		return 1
	}
	return 0
}

type monitor struct {
	dir   string
	log   *slog.Logger
	rec   containerRecord
	state monitorState
}

func (m *monitor) saveState() error {
	return writeJSONAtomic(filepath.Join(m.dir, "state.json"), m.state)
}

func (m *monitor) run(ready *os.File) error {
	if err := readJSON(filepath.Join(m.dir, "config.json"), &m.rec); err != nil {
		_ = json.NewEncoder(ready).Encode(readyMsg{Error: err.Error()})
		return err
	}
	m.state.MonitorPid = os.Getpid()
	start, err := procStartTime(m.state.MonitorPid)
	if err != nil {
		return fmt.Errorf("own start time: %w", err)
	}
	m.state.MonitorStart = start
	if err := m.saveState(); err != nil {
		_ = json.NewEncoder(ready).Encode(readyMsg{Error: err.Error()})
		return err
	}

	r, err := m.start()
	if err != nil {
		m.state.Exited, m.state.FinishedAt = true, time.Now()
		m.state.ExitCode, m.state.Reason, m.state.Message = 128, "StartError", err.Error()
		serr := m.saveState()
		_ = json.NewEncoder(ready).Encode(readyMsg{Error: err.Error()})
		ready.Close()
		return errors.Join(err, serr)
	}
	m.state.Pid, m.state.StartedAt = r.pid, time.Now()
	if err := m.saveState(); err != nil {
		m.log.Error("record start", "err", err)
	}
	// Listen before reporting ready, so that an attach right after the
	// start finds the socket. Without it only attach fails.
	if err := r.hub.listen(m.dir); err != nil {
		m.log.Error("attach socket", "err", err)
	}
	// The kubelet may be gone (restart): a failed write is fine.
	_ = json.NewEncoder(ready).Encode(readyMsg{Pid: r.pid})
	ready.Close()

	code := r.wait()
	r.hub.end()
	m.state.FinishedAt = time.Now()
	m.state.ExitCode = code
	switch {
	case r.oomKills() > 0:
		m.state.Reason = "OOMKilled"
	case code == 0:
		m.state.Reason = "Completed"
	default:
		m.state.Reason = "Error"
	}
	r.cleanup()
	m.state.Exited = true
	return m.saveState()
}

// running is a started container as the monitor holds it.
type running struct {
	m         *monitor
	container *libcontainer.Container
	process   *libcontainer.Process
	pid       int
	rootfs    string
	cgroups   map[string]string
	copies    sync.WaitGroup
	logFile   *os.File
	hub       *attachHub
}

func (m *monitor) start() (_ *running, retErr error) {
	rec := &m.rec
	r := &running{m: m, rootfs: filepath.Join(m.dir, "rootfs"), hub: newAttachHub(m.log, &rec.Config)}
	defer func() {
		if retErr != nil {
			r.cleanup()
		}
	}()
	if err := mountOverlay(rec.Config.LowerDirs, filepath.Join(m.dir, "upper"), filepath.Join(m.dir, "work"), r.rootfs); err != nil {
		return nil, err
	}
	spec, err := containerSpec(rec, r.rootfs)
	if err != nil {
		return nil, err
	}
	config, err := libcontainerConfig(spec)
	if err != nil {
		return nil, err
	}
	r.container, err = libcontainer.Create(rec.LibcontainerRoot, rec.ID, config)
	if err != nil {
		return nil, fmt.Errorf("create container %s: %w", rec.ID, err)
	}
	if err := r.openLog(); err != nil {
		return nil, err
	}
	p := &libcontainer.Process{
		Args: spec.Process.Args, Env: spec.Process.Env, Cwd: spec.Process.Cwd,
		UID: int(rec.Config.UID), GID: int(rec.Config.GID),
		Init: true,
	}
	for _, g := range rec.Config.AdditionalGIDs {
		p.AdditionalGroups = append(p.AdditionalGroups, int(g))
	}
	var mu sync.Mutex
	stdout := crilog.NewWriter(r.logFile, &mu, crilog.Stdout)
	stderr := crilog.NewWriter(r.logFile, &mu, crilog.Stderr)
	var childEnds []*os.File
	var consoleSock, stdinW *os.File
	if rec.Config.TTY {
		parent, child, err := utils.NewSockPair("console")
		if err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		consoleSock = parent
		defer parent.Close()
		p.ConsoleSocket = child
		childEnds = append(childEnds, child)
	} else {
		if rec.Config.Stdin {
			// The monitor holds the write end for attach sessions; the
			// container reads EOF only when it is closed (StdinOnce).
			pr, pw, err := os.Pipe()
			if err != nil {
				return nil, fmt.Errorf("pipe: %w", err)
			}
			p.Stdin, stdinW = pr, pw
			childEnds = append(childEnds, pr)
		}
		for _, s := range []struct {
			w   *crilog.Writer
			typ byte
			set *io.Writer
		}{{stdout, frameStdout, &p.Stdout}, {stderr, frameStderr, &p.Stderr}} {
			pr, pw, err := os.Pipe()
			if err != nil {
				return nil, fmt.Errorf("pipe: %w", err)
			}
			*s.set = pw
			childEnds = append(childEnds, pw)
			r.copy(s.w, s.typ, pr)
		}
	}
	err = r.container.Run(p)
	for _, f := range childEnds {
		f.Close()
	}
	if err != nil {
		if stdinW != nil {
			stdinW.Close()
		}
		return nil, fmt.Errorf("start container %s: %w", rec.ID, err)
	}
	r.process = p
	r.hub.setStdio(stdinW, nil)
	if consoleSock != nil {
		master, err := recvConsole(consoleSock)
		if err != nil {
			_ = p.Signal(unix.SIGKILL)
			_, _ = p.Wait()
			return nil, err
		}
		if rec.Config.Stdin {
			r.hub.setStdio(master, master)
		} else {
			r.hub.setStdio(nil, master)
		}
		r.copy(stdout, frameStdout, master)
	}
	r.pid, _ = p.Pid()
	if st, err := r.container.State(); err == nil {
		r.cgroups = st.CgroupPaths
	}
	return r, nil
}

func (r *running) openLog() error {
	path := r.m.rec.Config.LogPath
	if path == "" {
		path = os.DevNull
	} else if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("log dir for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open container log: %w", err)
	}
	r.logFile = f
	return nil
}

// copy drains src into w until EOF (or EIO, the end of a terminal). A log
// that cannot be written must not block the container, so a write error
// only switches the copy to discarding.
//
// Each chunk also goes to the attached clients (as frame typ).
func (r *running) copy(w *crilog.Writer, typ byte, src *os.File) {
	r.copies.Add(1)
	go func() {
		defer r.copies.Done()
		defer src.Close()
		buf := make([]byte, 32*1024)
		var werr error
		for {
			n, err := src.Read(buf)
			if n > 0 {
				r.hub.broadcast(typ, buf[:n])
			}
			if n > 0 && werr == nil {
				if _, werr = w.Write(buf[:n]); werr != nil {
					r.m.log.Error("write container log", "err", werr)
				}
			}
			if err != nil {
				break
			}
		}
		if werr == nil {
			_ = w.Flush()
		}
	}()
}

// wait returns the container's exit code (128+signal when killed) once its
// init has exited and its output is in the log.
func (r *running) wait() int {
	ps, err := r.process.Wait()
	r.copies.Wait()
	if ps == nil {
		r.m.log.Error("wait for container", "err", err)
		return 255
	}
	return exitCode(ps)
}

// exitCode is the shell's view of an exit: the status, or 128+signal.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func (r *running) oomKills() uint64 { return oomKills(r.cgroups) }

// cleanup destroys the container (its cgroup and libcontainer state) and
// unmounts the rootfs; the upper dir stays until RemoveContainer.
func (r *running) cleanup() {
	r.hub.close()
	if r.container != nil {
		if err := r.container.Destroy(); err != nil {
			r.m.log.Error("destroy container", "err", err)
		}
	}
	if r.logFile != nil {
		r.logFile.Close()
	}
	if err := unmountRootfs(r.rootfs); err != nil {
		r.m.log.Error("unmount rootfs", "err", err)
	}
}

func recvConsole(sock *os.File) (*os.File, error) {
	master, err := utils.RecvFile(sock)
	if err != nil {
		return nil, fmt.Errorf("receive console: %w", err)
	}
	return master, nil
}

// mountOverlay mounts the image layers (topmost first) with a writable
// upper layer at target.
func mountOverlay(lower []string, upper, work, target string) error {
	if len(lower) == 0 {
		return errors.New("overlay rootfs: no image layers (lowerdirs)")
	}
	for _, p := range append([]string{upper, work}, lower...) {
		if strings.ContainsAny(p, ",:") {
			return fmt.Errorf("overlay rootfs: path %q contains ',' or ':'", p)
		}
	}
	opts := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + upper + ",workdir=" + work
	if len(opts) >= os.Getpagesize() {
		return fmt.Errorf("overlay rootfs: %d layers make options of %d bytes, over the kernel's page limit", len(lower), len(opts))
	}
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay rootfs at %s: %w", target, err)
	}
	return nil
}

// unmountRootfs unmounts target if it is a mount point.
func unmountRootfs(target string) error {
	err := unix.Unmount(target, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(target, unix.MNT_DETACH)
	}
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", target, err)
	}
	return nil
}
