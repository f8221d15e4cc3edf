package runtime

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// attachHub is the monitor's side of attach (see attach.go): it fans the
// container's output out to every attached client and feeds their input to
// the container's stdin. A client that cannot keep up is dropped rather
// than allowed to stall the container's output (and its log).
type attachHub struct {
	log       *slog.Logger
	tty       bool
	stdinOnce bool
	ln        net.Listener
	lnPath    string

	mu      sync.Mutex
	clients map[*attachClient]bool
	ended   bool // the container's output has ended
	// stdin is the container's stdin: the pipe's write end, or the pty
	// master with TTY; nil when the container has no stdin.
	stdin       *os.File
	stdinClosed bool
	// master is the pty master (TTY only), for resizes.
	master *os.File
}

type attachClient struct {
	conn net.Conn
	out  chan []byte // frames; closed when the client is removed
}

// clientQueue is how many output chunks may wait for one slow client.
const clientQueue = 1024

func newAttachHub(log *slog.Logger, cfg *ContainerConfig) *attachHub {
	return &attachHub{log: log, tty: cfg.TTY, stdinOnce: cfg.StdinOnce, clients: map[*attachClient]bool{}}
}

// setStdio records the container's stdin (nil: none) and terminal.
func (h *attachHub) setStdio(stdin, master *os.File) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stdin, h.master = stdin, master
}

// listen serves attach connections on dir/attach.sock until close.
func (h *attachHub) listen(dir string) error {
	err := withSockPath(dir, attachSockName, func(p string) error {
		_ = os.Remove(p) // left by a monitor that was killed
		ln, err := net.Listen("unix", p)
		if err != nil {
			return err
		}
		// Remove the file ourselves (by its real path) in close.
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		h.ln = ln
		return nil
	})
	if err != nil {
		return err
	}
	h.lnPath = dir + "/" + attachSockName
	go h.accept()
	return nil
}

func (h *attachHub) accept() {
	for {
		conn, err := h.ln.Accept()
		if err != nil {
			return
		}
		c := &attachClient{conn: conn, out: make(chan []byte, clientQueue)}
		h.mu.Lock()
		if h.ended {
			c.out <- appendFrame(nil, frameExit, nil)
			close(c.out)
		} else {
			h.clients[c] = true
		}
		h.mu.Unlock()
		go h.write(c)
		go h.read(c)
	}
}

// write sends c's frames; it closes the connection when the queue is
// closed (output ended, or the client was dropped).
func (h *attachHub) write(c *attachClient) {
	defer c.conn.Close()
	for f := range c.out {
		if _, err := c.conn.Write(f); err != nil {
			h.remove(c)
			for range c.out { // drain until remove's close
			}
			return
		}
	}
}

// read handles c's input frames; the end of the connection ends the
// session.
func (h *attachHub) read(c *attachClient) {
	defer func() {
		h.remove(c)
		if h.stdinOnce {
			h.closeStdin()
		}
	}()
	for {
		typ, p, err := readFrame(c.conn)
		if err != nil {
			return
		}
		switch typ {
		case frameStdin:
			h.mu.Lock()
			in := h.stdin
			if h.stdinClosed {
				in = nil
			}
			h.mu.Unlock()
			if in != nil {
				// Not under mu: a container that does not read its stdin
				// must not block its output. A write racing closeStdin
				// fails harmlessly.
				_, _ = in.Write(p)
			}
		case frameResize:
			if len(p) == 4 {
				h.resize(binary.BigEndian.Uint16(p[:2]), binary.BigEndian.Uint16(p[2:]))
			}
		case frameCloseStdin:
			if h.stdinOnce {
				h.closeStdin()
			}
		}
	}
}

func (h *attachHub) resize(w, ht uint16) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.master == nil || h.ended {
		return
	}
	ws := &unix.Winsize{Col: w, Row: ht}
	err := fileControl(h.master, func(fd int) error { return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws) })
	if err != nil {
		h.log.Warn("attach: resize terminal", "err", err)
	}
}

// closeStdin gives the container EOF on its stdin (StdinOnce). Closing a
// pty master would lose the container's last output, so for a TTY the
// monitor hangs up the terminal's other side instead: vhangup delivers
// SIGHUP to its session and EOF to every later read, which is what closing
// the master does.
func (h *attachHub) closeStdin() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stdinClosed || h.stdin == nil {
		return
	}
	h.stdinClosed = true
	if h.tty {
		if !h.ended {
			if err := fileControl(h.master, hangupPeer); err != nil {
				h.log.Warn("attach: hang up terminal", "err", err)
			}
		}
		return
	}
	if err := h.stdin.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		h.log.Warn("attach: close container stdin", "err", err)
	}
}

func (h *attachHub) remove(c *attachClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.clients[c] {
		delete(h.clients, c)
		close(c.out)
	}
}

// broadcast sends one chunk of the container's output to every client.
func (h *attachHub) broadcast(typ byte, p []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.clients) == 0 {
		return
	}
	f := appendFrame(nil, typ, p)
	for c := range h.clients {
		select {
		case c.out <- f:
		default:
			h.log.Warn("attach: dropping a client that does not keep up with the output")
			delete(h.clients, c)
			close(c.out)
		}
	}
}

// end tells every client that the output is complete (the container
// exited) and closes their connections once their queues are sent.
func (h *attachHub) end() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ended = true
	for c := range h.clients {
		select {
		case c.out <- appendFrame(nil, frameExit, nil):
		default:
		}
		delete(h.clients, c)
		close(c.out)
	}
}

// close stops listening, removes the socket and the container's stdin.
func (h *attachHub) close() {
	if h.ln != nil {
		h.ln.Close()
		_ = os.Remove(h.lnPath)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stdin != nil && !h.tty && !h.stdinClosed {
		h.stdin.Close()
	}
	h.stdinClosed = true
}

// fileControl runs f on f's descriptor without File.Fd, which would switch
// a descriptor that another goroutine reads to blocking mode.
func fileControl(file *os.File, f func(fd int) error) error {
	rc, err := file.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// hangupPeer hangs up the slave side of the pty master fd.
func hangupPeer(master int) error {
	// O_NOCTTY: the monitor leads a session without a terminal and must
	// not acquire this one.
	p, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(master), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		return errno
	}
	peer := int(p)
	defer unix.Close(peer)
	return unix.IoctlSetInt(peer, unix.TIOCVHANGUP, 0)
}
