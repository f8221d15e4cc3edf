package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// StartContainer creates and starts a container in sb and returns once its
// process runs (or failed to start). The container is started by a monitor
// process that outlives this Runtime; see the package doc. cfg.Name and
// cfg.Attempt must name a container that does not exist yet.
func (r *Runtime) StartContainer(sb *Sandbox, cfg ContainerConfig) (ContainerStatus, error) {
	id, dir, err := r.prepareContainer(sb, cfg)
	if err != nil {
		return ContainerStatus{}, err
	}
	r.mu.Lock()
	r.starting[id] = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.starting, id)
		r.mu.Unlock()
	}()
	msg, err := r.spawnMonitor(sb.PodUID, id, dir)
	if err != nil {
		return ContainerStatus{}, fmt.Errorf("start container %s: %w", id, err)
	}
	st, serr := r.ContainerStatus(id)
	if msg.Error != "" {
		return st, fmt.Errorf("start container %s: %s", id, msg.Error)
	}
	return st, serr
}

// prepareContainer makes the container's directory and config.json.
func (r *Runtime) prepareContainer(sb *Sandbox, cfg ContainerConfig) (id, dir string, err error) {
	if sb == nil {
		return "", "", errors.New("start container: nil sandbox")
	}
	if cfg.Name == "" || filepath.Base(cfg.Name) != cfg.Name || cfg.Attempt < 0 {
		return "", "", fmt.Errorf("start container: invalid name %q or attempt %d", cfg.Name, cfg.Attempt)
	}
	id = containerID(sb.PodUID, cfg.Name, cfg.Attempt)
	if len(cfg.Args) == 0 {
		return "", "", fmt.Errorf("start container %s: no command", id)
	}
	if len(cfg.LowerDirs) == 0 {
		return "", "", fmt.Errorf("start container %s: no image layers (overlayfs needs at least one lowerdir)", id)
	}
	if _, err := os.Stat(filepath.Join(sb.Dir, "sandbox.json")); err != nil {
		return "", "", fmt.Errorf("start container %s: sandbox: %w", id, err)
	}
	dir, _ = r.containerDir(id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("start container %s: %w", id, err)
	}
	for _, d := range []string{"rootfs", "upper", "work"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return "", "", fmt.Errorf("start container %s: %w", id, err)
		}
	}
	rec := containerRecord{
		ID: id, PodUID: sb.PodUID, Config: cfg, Sandbox: *sb, CreatedAt: time.Now(),
		CgroupPath:       filepath.Join(r.podCgroupPath(sb.PodUID), fmt.Sprintf("%s_%d", cfg.Name, cfg.Attempt)),
		LibcontainerRoot: r.lcRoot,
	}
	if err := writeJSONAtomic(filepath.Join(dir, "config.json"), rec); err != nil {
		return "", "", fmt.Errorf("start container %s: %w", id, err)
	}

	return id, dir, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// ContainerStatus reads a container's status from disk.
func (r *Runtime) ContainerStatus(id string) (ContainerStatus, error) {
	dir, err := r.containerDir(id)
	if err != nil {
		return ContainerStatus{}, err
	}
	var rec containerRecord
	if err := readJSON(filepath.Join(dir, "config.json"), &rec); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return ContainerStatus{}, fmt.Errorf("container %s: %w", id, ErrNotFound)
		}
		return ContainerStatus{}, fmt.Errorf("container %s: %w", id, err)
	}
	st := ContainerStatus{
		ID: id, PodUID: rec.PodUID, Name: rec.Config.Name, Attempt: rec.Config.Attempt,
		Image: rec.Config.Image, ImageID: rec.Config.ImageID, CreatedAt: rec.CreatedAt,
		LogPath: rec.Config.LogPath, State: StateUnknown,
	}
	var ms monitorState
	err = readJSON(filepath.Join(dir, "state.json"), &ms)
	switch {
	case err != nil:
		r.mu.Lock()
		starting := r.starting[id]
		r.mu.Unlock()
		if starting {
			st.State = StateCreated
		}
	case ms.Exited:
		st.State, st.Pid = StateExited, 0
		st.StartedAt, st.FinishedAt = ms.StartedAt, ms.FinishedAt
		st.ExitCode, st.Reason, st.Message = ms.ExitCode, ms.Reason, ms.Message
	case processAlive(ms.MonitorPid, ms.MonitorStart):
		st.State, st.Pid, st.StartedAt = StateCreated, ms.Pid, ms.StartedAt
		if ms.Pid > 0 {
			st.State = StateRunning
		}
	default:
		// The monitor died without recording an exit: killed, or the node
		// rebooted. The exit code is lost.
		st.StartedAt, st.ExitCode, st.Reason = ms.StartedAt, 255, "Unknown"
		st.Message = "the container's monitor exited without recording the container's exit"
	}
	return st, nil
}

// ListContainers returns every container (all attempts) of a pod, oldest
// first, from disk.
func (r *Runtime) ListContainers(podUID string) ([]ContainerStatus, error) {
	ents, err := os.ReadDir(filepath.Join(r.podDir(podUID), "containers"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list containers of pod %s: %w", podUID, err)
	}
	var out []ContainerStatus
	for _, e := range ents {
		st, err := r.ContainerStatus(podUID + "_" + e.Name())
		if err != nil {
			continue // being removed
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// exitChan returns a channel closed when the container's monitor exits, or
// nil when no monitor runs.
func (r *Runtime) exitChan(id string) chan struct{} {
	r.mu.Lock()
	ch := r.exited[id]
	r.mu.Unlock()
	if ch != nil {
		return ch
	}
	dir, err := r.containerDir(id)
	if err != nil {
		return nil
	}
	var ms monitorState
	if readJSON(filepath.Join(dir, "state.json"), &ms) != nil || ms.Exited || !processAlive(ms.MonitorPid, ms.MonitorStart) {
		return nil
	}
	podUID, _, _, _ := parseID(id)
	return r.watch(podUID, id, func() { waitPidfd(ms.MonitorPid, ms.MonitorStart) })
}

// StopContainer sends SIGTERM to the container's init, waits up to grace,
// then SIGKILL; it returns when the container has exited and its exit is
// recorded. Stopping an exited container is not an error.
func (r *Runtime) StopContainer(id string, grace time.Duration) error {
	st, err := r.ContainerStatus(id)
	if err != nil {
		return err
	}
	if st.State == StateExited {
		return nil
	}
	ch := r.exitChan(id)
	c, err := libcontainer.Load(r.lcRoot, id)
	if err != nil {
		if ch == nil {
			return nil // neither a monitor nor a container: nothing runs
		}
		// The monitor is between destroying the container and recording
		// its exit (or, rarely, before creating it).
		select {
		case <-ch:
			return nil
		case <-time.After(30 * time.Second):
			return fmt.Errorf("stop container %s: %w", id, err)
		}
	}
	if ch == nil {
		// No monitor (it was killed): the process may still run.
		_ = c.Signal(unix.SIGKILL)
		return nil
	}
	if grace > 0 {
		if err := c.Signal(unix.SIGTERM); err != nil {
			// Not fatal: the KILL at the deadline still stops it, but a
			// pod that waits out its whole grace period needs this clue.
			slog.Warn("SIGTERM to container failed", "container", id, "err", err)
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-ch:
			return nil
		case <-t.C:
		}
	}
	_ = c.Signal(unix.SIGKILL)
	select {
	case <-ch:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("stop container %s: still running 30s after SIGKILL", id)
	}
}

// RemoveContainer removes an exited (or unknown) container's directory,
// rootfs mount and layers. Its log file stays. Removing a container that
// does not exist is not an error.
func (r *Runtime) RemoveContainer(id string) error {
	st, err := r.ContainerStatus(id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.State == StateRunning || st.State == StateCreated {
		return fmt.Errorf("remove container %s: it is %s", id, st.State)
	}
	// A monitor that died leaves libcontainer state (and maybe processes)
	// and the rootfs mount behind.
	if c, err := libcontainer.Load(r.lcRoot, id); err == nil {
		_ = c.Signal(unix.SIGKILL)
		if err := c.Destroy(); err != nil {
			return fmt.Errorf("remove container %s: %w", id, err)
		}
	}
	dir, _ := r.containerDir(id)
	if err := unmountRootfs(filepath.Join(dir, "rootfs")); err != nil {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	return nil
}
