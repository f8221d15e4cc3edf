package runtime

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a polling reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, buf *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q in %q", what, want, buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// attach runs Attach in the background; the returned func cancels it and
// returns its error.
func attach(t *testing.T, r *Runtime, id string, cfg ExecConfig) (stop func() error, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- r.Attach(ctx, id, cfg) }()
	t.Cleanup(cancel)
	return func() error {
		cancel()
		select {
		case err := <-ch:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Attach did not return after cancel")
			return nil
		}
	}, ch
}

func TestAttachStdin(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{})
	cfg := basicConfig(t, "cat", "cat")
	cfg.Stdin = true
	st := start(t, r, sb, cfg)

	// Two sessions: a detach must not close a non-StdinOnce stdin.
	for _, word := range []string{"hello", "again"} {
		inR, inW := io.Pipe()
		var out syncBuffer
		stop, _ := attach(t, r, st.ID, ExecConfig{Stdin: inR, Stdout: &out})
		_, _ = inW.Write([]byte(word + "\n"))
		waitFor(t, "cat", &out, word+"\n")
		inW.Close() // the client's stdin ends: the container's stays open
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := r.ContainerStatus(st.ID); got.State != StateRunning {
		t.Fatalf("after detaching: %+v", got)
	}
	if err := r.StopContainer(st.ID, 0); err != nil {
		t.Fatal(err)
	}
	if got := logLines(t, cfg.LogPath); len(got) != 2 || got[0] != "stdout hello" {
		t.Fatalf("log = %q", got)
	}
}

func TestAttachStdinOnce(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{})
	cfg := basicConfig(t, "cat", "cat")
	cfg.Stdin, cfg.StdinOnce = true, true
	st := start(t, r, sb, cfg)
	var out syncBuffer
	// The client's stdin ends: the container reads EOF, cat prints and
	// exits 0, and Attach returns once the output is complete.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := r.Attach(ctx, st.ID, ExecConfig{Stdin: strings.NewReader("hi\n"), Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "hi\n" {
		t.Fatalf("output = %q", out.String())
	}
	if st := waitExit(t, r, st.ID); st.ExitCode != 0 {
		t.Fatalf("status = %+v", st)
	}

	// A detach (no EOF from the client) ends the first session too.
	cfg = basicConfig(t, "cat2", "cat")
	cfg.Stdin, cfg.StdinOnce = true, true
	st = start(t, r, sb, cfg)
	inR, inW := io.Pipe()
	defer inW.Close()
	stop, _ := attach(t, r, st.ID, ExecConfig{Stdin: inR, Stdout: &out})
	_, _ = inW.Write([]byte("x\n"))
	waitFor(t, "cat2", &out, "x\n")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := waitExit(t, r, st.ID); st.ExitCode != 0 {
		t.Fatalf("status = %+v", st)
	}
}

func TestAttachTTY(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{})
	cfg := basicConfig(t, "sh", "sh")
	cfg.Stdin, cfg.StdinOnce, cfg.TTY = true, true, true
	st := start(t, r, sb, cfg)
	inR, inW := io.Pipe()
	defer inW.Close()
	var out syncBuffer
	resize := make(chan TerminalSize, 1)
	resize <- TerminalSize{Width: 123, Height: 45}
	_, done := attach(t, r, st.ID, ExecConfig{TTY: true, Stdin: inR, Stdout: &out, Resize: resize})
	// The resize races the first command: ask until it is seen.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "size=45 123") {
		if time.Now().After(deadline) {
			t.Fatalf("no resize in %q", out.String())
		}
		_, _ = inW.Write([]byte("echo size=$(stty size)\n"))
		time.Sleep(100 * time.Millisecond)
	}
	_, _ = inW.Write([]byte("exit 7\n"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Attach did not return when the shell exited")
	}
	if st := waitExit(t, r, st.ID); st.ExitCode != 7 {
		t.Fatalf("status = %+v", st)
	}
}

func TestAttachTTYStdinOnceHangsUp(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{})
	cfg := basicConfig(t, "cat", "cat")
	cfg.Stdin, cfg.StdinOnce, cfg.TTY = true, true, true
	st := start(t, r, sb, cfg)
	inR, inW := io.Pipe()
	defer inW.Close()
	var out syncBuffer
	stop, _ := attach(t, r, st.ID, ExecConfig{TTY: true, Stdin: inR, Stdout: &out})
	_, _ = inW.Write([]byte("ping\n"))
	waitFor(t, "tty cat", &out, "ping\r\nping\r\n") // echo, then cat
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	waitExit(t, r, st.ID) // the hangup ends cat
}

func TestAttachOutputOnly(t *testing.T) {
	r := newTestRuntime(t)
	sb := newSandbox(t, r, SandboxConfig{})
	cfg := basicConfig(t, "ticker", "sh", "-c", "i=0; while [ $i -lt 40 ]; do echo tick $i; echo tock >&2; i=$((i+1)); sleep 0.05; done")
	st := start(t, r, sb, cfg)
	var out, errb syncBuffer
	// Stdin to a container without stdin is dropped, not an error.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Attach(ctx, st.ID, ExecConfig{Stdin: strings.NewReader("ignored\n"), Stdout: &out, Stderr: &errb}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "tick 39\n") || !strings.Contains(errb.String(), "tock\n") || strings.Contains(out.String(), "tock") {
		t.Fatalf("stdout %q, stderr %q", out.String(), errb.String())
	}
	// The stream ends when the process closes its output; the monitor
	// records the exit a moment later. Only then is the container "exited".
	waitExit(t, r, st.ID)
	if err := r.Attach(ctx, st.ID, ExecConfig{Stdout: &out}); err == nil {
		t.Fatal("attach to an exited container succeeded")
	}
}

func TestFrameRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		typ     byte
		payload string
	}{{frameStdin, "hello"}, {frameResize, "\x00\x50\x00\x18"}, {frameCloseStdin, ""}} {
		typ, p, err := readFrame(bytes.NewReader(appendFrame(nil, tc.typ, []byte(tc.payload))))
		if err != nil || typ != tc.typ || string(p) != tc.payload {
			t.Errorf("round trip of %d %q: %d %q %v", tc.typ, tc.payload, typ, p, err)
		}
	}
	big := []byte{frameStdout, 0xff, 0xff, 0xff, 0xff}
	if _, _, err := readFrame(bytes.NewReader(big)); err == nil {
		t.Error("oversized frame accepted")
	}
}

func TestSockPathLongDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	err := withSockPath(dir, attachSockName, func(p string) (err error) {
		if len(p) >= 108 {
			t.Errorf("path %q is too long for a unix socket", p)
		}
		ln, err = net.Listen("unix", p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			_, _ = c.Write([]byte("ok"))
			c.Close()
		}
	}()
	var got []byte
	err = withSockPath(dir, attachSockName, func(p string) error {
		c, err := net.Dial("unix", p)
		if err != nil {
			return err
		}
		defer c.Close()
		got, err = io.ReadAll(c)
		return err
	})
	if err != nil || string(got) != "ok" {
		t.Fatalf("dial through %s: %q, %v", dir, got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, attachSockName)); err != nil {
		t.Fatalf("socket not in its directory: %v", err)
	}
}
