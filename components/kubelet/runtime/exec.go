package runtime

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"
)

// Exec runs cfg.Cmd in the running container id (in its namespaces, cgroup
// and with its capabilities) and returns the exit code. The process is this
// Runtime's child; cancelling ctx kills it. Stdout/Stderr are fully copied
// before Exec returns; Stdin is copied until the process exits (a Stdin that
// never ends does not block the return).
func (r *Runtime) Exec(ctx context.Context, id string, cfg ExecConfig) (int, error) {
	if len(cfg.Cmd) == 0 {
		return -1, fmt.Errorf("exec in %s: no command", id)
	}
	dir, err := r.containerDir(id)
	if err != nil {
		return -1, err
	}
	var rec containerRecord
	if err := readJSON(dir+"/config.json", &rec); err != nil {
		return -1, fmt.Errorf("exec in %s: %w", id, ErrNotFound)
	}
	c, err := libcontainer.Load(r.lcRoot, id)
	if err != nil {
		return -1, fmt.Errorf("exec in %s: container not running: %w", id, err)
	}
	spec, err := containerSpec(&rec, "/")
	if err != nil {
		return -1, err
	}
	env := append(spec.Process.Env, cfgEnvTerm(cfg.TTY)...)
	p := &libcontainer.Process{
		Args: cfg.Cmd, Env: env, Cwd: spec.Process.Cwd,
		UID: int(rec.Config.UID), GID: int(rec.Config.GID),
		Init: false,
	}
	for _, g := range rec.Config.AdditionalGIDs {
		p.AdditionalGroups = append(p.AdditionalGroups, int(g))
	}
	e := &execIO{done: make(chan struct{})}
	defer e.closeAll()
	if err := e.setup(p, cfg); err != nil {
		return -1, fmt.Errorf("exec in %s: %w", id, err)
	}
	if err := c.Run(p); err != nil {
		return -1, fmt.Errorf("exec in %s: %w", id, err)
	}
	e.closeChildEnds()
	if err := e.startCopies(p, cfg); err != nil {
		_ = p.Signal(unix.SIGKILL)
		_, _ = p.Wait()
		return -1, fmt.Errorf("exec in %s: %w", id, err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			_ = p.Signal(unix.SIGKILL)
		case <-done:
		}
	}()
	ps, werr := p.Wait()
	e.waitOutput()
	if ps == nil {
		return -1, fmt.Errorf("exec in %s: wait: %w", id, werr)
	}
	if ctx.Err() != nil {
		return -1, fmt.Errorf("exec in %s: %w", id, ctx.Err())
	}
	return exitCode(ps), nil
}

func cfgEnvTerm(tty bool) []string {
	if tty {
		return []string{"TERM=xterm"}
	}
	return nil
}

// execIO wires an exec's streams: pipes (so that an interactive stdin does
// not hold up Wait, as exec.Cmd's own copying would) or a terminal.
type execIO struct {
	childEnds []*os.File // closed in this process once the child has them
	stdinW    *os.File
	outputs   []*os.File // read ends whose copying Exec waits for
	console   *os.File   // the console socket's parent end
	master    *os.File
	copied    chan struct{}
	nCopies   int
	// mu and closed keep the resize goroutine off a closed master; done
	// ends it.
	mu     sync.Mutex
	closed bool
	done   chan struct{}
}

func (e *execIO) setup(p *libcontainer.Process, cfg ExecConfig) error {
	if cfg.TTY {
		parent, child, err := utils.NewSockPair("console")
		if err != nil {
			return fmt.Errorf("console socket: %w", err)
		}
		e.console = parent
		p.ConsoleSocket = child
		e.childEnds = append(e.childEnds, child)
		return nil
	}
	if cfg.Stdin != nil {
		pr, pw, err := os.Pipe()
		if err != nil {
			return err
		}
		p.Stdin, e.stdinW = pr, pw
		e.childEnds = append(e.childEnds, pr)
	}
	for _, set := range []*io.Writer{&p.Stdout, &p.Stderr} {
		pr, pw, err := os.Pipe()
		if err != nil {
			return err
		}
		*set = pw
		e.childEnds = append(e.childEnds, pw)
		e.outputs = append(e.outputs, pr)
	}
	return nil
}

func (e *execIO) closeChildEnds() {
	for _, f := range e.childEnds {
		f.Close()
	}
	e.childEnds = nil
}

func (e *execIO) startCopies(p *libcontainer.Process, cfg ExecConfig) error {
	e.copied = make(chan struct{}, 2)
	// Callers often pass one writer for both streams (a probe collects
	// "the output"). Two io.Copy calls into one bytes.Buffer race inside
	// its ReadFrom and lose data, so every write goes through one lock.
	var mu sync.Mutex
	out := func(w io.Writer, r *os.File) {
		if w == nil {
			w = io.Discard
		}
		e.nCopies++
		go func() {
			_, _ = io.Copy(&lockedWriter{mu: &mu, w: w}, r)
			e.copied <- struct{}{}
		}()
	}
	if cfg.TTY {
		m, err := utils.RecvFile(e.console)
		if err != nil {
			return fmt.Errorf("receive console: %w", err)
		}
		e.master = m
		if cfg.Stdin != nil {
			go func() { _, _ = io.Copy(m, cfg.Stdin) }()
		}
		if cfg.Resize != nil {
			fd := int(m.Fd())
			go func() {
				for {
					select {
					case sz, ok := <-cfg.Resize:
						if !ok {
							return
						}
						e.mu.Lock()
						if !e.closed {
							_ = unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: sz.Height, Col: sz.Width})
						}
						e.mu.Unlock()
					case <-e.done:
						return
					}
				}
			}()
		}
		// Reading the master ends with EIO when the last slave fd closes.
		out(cfg.Stdout, m)
		return nil
	}
	if e.stdinW != nil {
		w := e.stdinW
		go func() {
			_, _ = io.Copy(w, cfg.Stdin)
			w.Close() // EOF for the process
		}()
	}
	out(cfg.Stdout, e.outputs[0])
	out(cfg.Stderr, e.outputs[1])
	return nil
}

func (e *execIO) waitOutput() {
	for range e.nCopies {
		<-e.copied
	}
}

func (e *execIO) closeAll() {
	close(e.done)
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.closeChildEnds()
	for _, f := range append(e.outputs, e.console, e.master) {
		if f != nil {
			f.Close()
		}
	}
	// The stdin copier may still be blocked reading cfg.Stdin; closing the
	// pipe makes its next write fail so it ends then.
	if e.stdinW != nil {
		_ = e.stdinW.Close()
	}
}

// lockedWriter serializes writes to w. It also hides w's ReadFrom, so
// io.Copy writes whole chunks through Write rather than letting w read
// straight from the pipe outside the lock.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
