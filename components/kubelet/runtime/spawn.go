package runtime

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Starting a monitor means exec'ing this binary again, which costs a Go
// process start (more for a big binary, and much more on a loaded node). The
// Runtime hides that by keeping one spare monitor started ahead of time: it
// waits on its control pipe (fd 4) for a container directory, then logs to
// that directory and starts the container. Each start takes the spare and
// starts the next one in the background.

// monitorProc is a started monitor not yet given a container.
type monitorProc struct {
	cmd   *exec.Cmd
	ctl   *os.File // write end of the monitor's fd 4
	ready *os.File // read end of the monitor's fd 3
}

func startMonitorProc(path string) (*monitorProc, error) {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("monitor pipe: %w", err)
	}
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		readyR.Close()
		readyW.Close()
		return nil, fmt.Errorf("monitor pipe: %w", err)
	}
	cmd := &exec.Cmd{
		Path:       path,
		Args:       []string{os.Args[0], monitorArg},
		Dir:        "/",
		ExtraFiles: []*os.File{readyW, ctlR},
		// Own session: no controlling terminal, so no Ctrl-C or SIGHUP
		// from the kubelet's terminal.
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	readyW.Close()
	ctlR.Close()
	if err != nil {
		readyR.Close()
		ctlW.Close()
		return nil, fmt.Errorf("spawn monitor: %w", err)
	}
	return &monitorProc{cmd: cmd, ctl: ctlW, ready: readyR}, nil
}

// discard tells a spare to exit and reaps it.
func (p *monitorProc) discard() {
	p.ctl.Close()
	p.ready.Close()
	go func() { _ = p.cmd.Wait() }()
}

// takeMonitor returns the spare monitor, or a new one.
func (r *Runtime) takeMonitor() (*monitorProc, error) {
	r.mu.Lock()
	p := r.spare
	r.spare = nil
	r.mu.Unlock()
	if p != nil {
		return p, nil
	}
	return startMonitorProc(r.monitorBin)
}

func (r *Runtime) refillSpare() {
	p, err := startMonitorProc(r.monitorBin)
	if err != nil {
		r.log.Warn("start spare container monitor", "err", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.done:
		p.discard()
		return
	default:
	}
	if r.spare != nil {
		p.discard()
		return
	}
	r.spare = p
}

// spawnMonitor gives a monitor the container in dir and waits for its ready
// message.
func (r *Runtime) spawnMonitor(podUID, id, dir string) (readyMsg, error) {
	p, err := r.takeMonitor()
	if err != nil {
		return readyMsg{}, err
	}
	defer p.ready.Close()
	r.watch(podUID, id, func() { _ = p.cmd.Wait() })
	_, err = io.WriteString(p.ctl, dir+"\n")
	p.ctl.Close()
	if err != nil {
		return readyMsg{}, fmt.Errorf("hand container to monitor: %w", err)
	}
	var msg readyMsg
	if err := json.NewDecoder(p.ready).Decode(&msg); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "monitor.log"))
		return readyMsg{}, fmt.Errorf("monitor: no ready message (%v): %s", err, tail(log, 500))
	}
	// Replace the spare only now, so that its start does not compete for
	// the CPU with this container's.
	go r.refillSpare()
	return msg, nil
}

// awaitAssignment is the monitor's side: it reads the container directory
// from ctl ("" when the runtime closed the pipe instead) and sends its own
// stdout and stderr to the directory's monitor.log.
func awaitAssignment(ctl *os.File) (string, error) {
	defer ctl.Close()
	line, err := bufio.NewReader(ctl).ReadString('\n')
	if errors.Is(err, io.EOF) && line == "" {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	dir := strings.TrimSuffix(line, "\n")
	logf, err := os.OpenFile(filepath.Join(dir, "monitor.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return "", err
	}
	defer logf.Close()
	for _, fd := range []int{1, 2} {
		if err := unix.Dup3(int(logf.Fd()), fd, 0); err != nil {
			return "", fmt.Errorf("redirect monitor output: %w", err)
		}
	}
	return dir, nil
}
