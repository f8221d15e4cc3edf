package runtime

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Attach (`kubectl attach`, `kubectl run -it`) connects to a container's
// own stdio. Only the monitor holds that stdio (the container's stdin pipe
// or terminal, and the read ends of its output), so the monitor listens on
// a unix socket in the container's directory (attach.sock) and the Runtime
// dials it:
//
//	client ──stdin/resize/close──▶ monitor ──▶ container stdin (pipe or pty)
//	client ◀──stdout/stderr/exit── monitor ◀── container output (also → log)
//
// Frames on the socket are a type byte, a big-endian uint32 length and the
// payload. Output produced before a client attached is not replayed (the
// log has it), as upstream.

// Frame types, client to monitor.
const (
	frameStdin      byte = 0 // payload: bytes for the container's stdin
	frameResize     byte = 1 // payload: width, height as big-endian uint16s
	frameCloseStdin byte = 2 // the client's stdin ended
)

// Frame types, monitor to client.
const (
	frameStdout byte = 1
	frameStderr byte = 2
	frameExit   byte = 3 // the container's output has ended: it exited
)

// maxFrame bounds a payload; output chunks are at most 32 KiB.
const maxFrame = 1 << 20

const attachSockName = "attach.sock"

func appendFrame(b []byte, typ byte, payload []byte) []byte {
	b = append(b, typ)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("attach frame of %d bytes: over the %d byte limit", n, maxFrame)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return hdr[0], p, nil
}

// withSockPath calls f with a path for the unix socket name in dir that
// fits sun_path (108 bytes): the path itself when short enough, otherwise
// the same file reached through /proc/self/fd/<fd of dir>, which both
// bind and connect resolve.
func withSockPath(dir, name string, f func(path string) error) error {
	p := filepath.Join(dir, name)
	if len(p) < 100 {
		return f(p)
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	return f(fmt.Sprintf("/proc/self/fd/%d/%s", fd, name))
}

// Attach connects cfg's streams to the main process of the running
// container id: its output (from now on) to cfg.Stdout/Stderr (with TTY
// everything goes to Stdout), cfg.Stdin to its stdin when the container
// was started with Stdin (otherwise the input is dropped: attaching to a
// container without stdin only shows its output), and cfg.Resize to its
// terminal. It returns when the container exits or ctx ends. The end of
// cfg.Stdin closes the container's stdin only for a StdinOnce container;
// otherwise the output keeps streaming until the container exits or ctx
// ends.
func (r *Runtime) Attach(ctx context.Context, id string, cfg ExecConfig) error {
	dir, err := r.containerDir(id)
	if err != nil {
		return err
	}
	st, err := r.ContainerStatus(id)
	if err != nil {
		return fmt.Errorf("attach to %s: %w", id, err)
	}
	if st.State != StateRunning {
		return fmt.Errorf("attach to %s: container is %s, not running", id, st.State)
	}
	var conn net.Conn
	err = withSockPath(dir, attachSockName, func(p string) error {
		var d net.Dialer
		var derr error
		conn, derr = d.DialContext(ctx, "unix", p)
		return derr
	})
	if err != nil {
		return fmt.Errorf("attach to %s: connect to its monitor: %w", id, err)
	}
	defer conn.Close()

	done := make(chan struct{})
	defer close(done)
	var wmu sync.Mutex
	send := func(typ byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		_, err := conn.Write(appendFrame(nil, typ, p))
		return err
	}
	if cfg.Stdin != nil {
		go func() {
			buf := make([]byte, 32*1024)
			for {
				n, err := cfg.Stdin.Read(buf)
				if n > 0 && send(frameStdin, buf[:n]) != nil {
					return
				}
				if err != nil {
					_ = send(frameCloseStdin, nil)
					return
				}
			}
		}()
	}
	if cfg.Resize != nil {
		go func() {
			for {
				select {
				case sz, ok := <-cfg.Resize:
					if !ok {
						return
					}
					var p [4]byte
					binary.BigEndian.PutUint16(p[:2], sz.Width)
					binary.BigEndian.PutUint16(p[2:], sz.Height)
					if send(frameResize, p[:]) != nil {
						return
					}
				case <-done:
					return
				}
			}
		}()
	}

	outErr := make(chan error, 1)
	go func() { outErr <- copyAttachOutput(conn, cfg) }()
	select {
	case err := <-outErr:
		return err
	case <-ctx.Done():
		conn.Close()
		<-outErr
		return nil // the client went away: a normal end of a session
	}
}

// copyAttachOutput writes output frames to cfg's writers until the exit
// frame or the end of the connection.
func copyAttachOutput(conn net.Conn, cfg ExecConfig) error {
	br := bufio.NewReaderSize(conn, 64*1024)
	stdout, stderr := cfg.Stdout, cfg.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	for {
		typ, p, err := readFrame(br)
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("attach: read from monitor: %w", err)
		}
		var w io.Writer
		switch typ {
		case frameStdout:
			w = stdout
		case frameStderr:
			w = stderr
		case frameExit:
			return nil
		default:
			return fmt.Errorf("attach: unknown frame type %d from monitor", typ)
		}
		if _, err := w.Write(p); err != nil {
			return nil // the client's side closed; the session is over
		}
	}
}
