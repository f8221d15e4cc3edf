package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/kubelab/kubelab/components/kubelet/runtime"
)

// fakeExec is a tiny shell: `exit N` exits with N, `cat` echoes stdin,
// `size` prints the first terminal size, anything else is printed back;
// every command also writes "err" to stderr.
func fakeExec(ctx context.Context, cfg runtime.ExecConfig) (int, error) {
	out, errw := cfg.Stdout, cfg.Stderr
	if out == nil {
		out = io.Discard
	}
	if errw == nil {
		errw = io.Discard
	}
	fmt.Fprint(errw, "err")
	switch cfg.Cmd[0] {
	case "exit":
		return strconv.Atoi(cfg.Cmd[1])
	case "cat":
		if cfg.Stdin == nil {
			return 2, nil
		}
		_, err := io.Copy(out, cfg.Stdin)
		return 0, err
	case "size":
		select {
		case s := <-cfg.Resize:
			fmt.Fprintf(out, "%dx%d", s.Width, s.Height)
		case <-time.After(5 * time.Second):
			return 1, nil
		}
		return 0, nil
	case "fail":
		return 0, errors.New("no such container process")
	}
	fmt.Fprint(out, strings.Join(cfg.Cmd, " "))
	return 0, nil
}

type oneSize struct{ sent bool }

func (q *oneSize) Next() *remotecommand.TerminalSize {
	if q.sent {
		return nil
	}
	q.sent = true
	return &remotecommand.TerminalSize{Width: 80, Height: 24}
}

// TestExec drives the server with client-go's own executors, SPDY and
// WebSocket (v5), as kubectl exec does through the API server.
func TestExec(t *testing.T) {
	base, p := startServer(t, &fakeHost{exec: fakeExec})
	cfg := p.restConfig(base)
	executors := map[string]func(u *url.URL) (remotecommand.Executor, error){
		"spdy": func(u *url.URL) (remotecommand.Executor, error) {
			return remotecommand.NewSPDYExecutor(cfg, "POST", u)
		},
		"websocket": func(u *url.URL) (remotecommand.Executor, error) {
			return remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
		},
	}
	tests := []struct {
		name       string
		path       string
		cmd        []string
		stdin      string
		tty        bool
		wantOut    string
		wantErr    string
		wantCode   int    // expected exec.CodeExitError code
		wantFailed string // other error text
	}{
		{name: "echo", path: "/exec/ns/web/app", cmd: []string{"echo", "hello", "world"}, wantOut: "echo hello world", wantErr: "err"},
		{name: "with uid", path: "/exec/ns/web/uid-1/app", cmd: []string{"echo", "hi"}, wantOut: "echo hi", wantErr: "err"},
		{name: "stdin until EOF", path: "/exec/ns/web/app", cmd: []string{"cat"}, stdin: "some input\n", wantOut: "some input\n", wantErr: "err"},
		{name: "exit code", path: "/exec/ns/web/app", cmd: []string{"exit", "3"}, wantErr: "err", wantCode: 3},
		{name: "tty and resize", path: "/exec/ns/web/app", cmd: []string{"size"}, tty: true, wantOut: "80x24"},
		{name: "runtime error", path: "/exec/ns/web/app", cmd: []string{"fail"}, wantErr: "err", wantFailed: "no such container process"},
	}
	for proto, newExecutor := range executors {
		for _, tt := range tests {
			t.Run(proto+"/"+tt.name, func(t *testing.T) {
				q := url.Values{"command": tt.cmd, "output": {"1"}}
				if !tt.tty {
					q.Set("error", "1")
				}
				if tt.stdin != "" {
					q.Set("input", "1")
				}
				if tt.tty {
					q.Set("tty", "1")
				}
				u, _ := url.Parse(base + tt.path + "?" + q.Encode())
				ex, err := newExecutor(u)
				if err != nil {
					t.Fatal(err)
				}
				var stdout, stderr bytes.Buffer
				opts := remotecommand.StreamOptions{Stdout: &stdout, Tty: tt.tty}
				if !tt.tty {
					opts.Stderr = &stderr
				}
				if tt.stdin != "" {
					opts.Stdin = strings.NewReader(tt.stdin)
				}
				if tt.tty {
					opts.TerminalSizeQueue = &oneSize{}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				err = ex.StreamWithContext(ctx, opts)
				var exit utilexec.CodeExitError
				switch {
				case tt.wantCode != 0:
					if !errors.As(err, &exit) || exit.Code != tt.wantCode {
						t.Errorf("err = %v (%T), want exec.CodeExitError with code %d", err, err, tt.wantCode)
					}
				case tt.wantFailed != "":
					if err == nil || !strings.Contains(err.Error(), tt.wantFailed) {
						t.Errorf("err = %v, want one containing %q", err, tt.wantFailed)
					}
				case err != nil:
					t.Errorf("err = %v", err)
				}
				if stdout.String() != tt.wantOut || stderr.String() != tt.wantErr {
					t.Errorf("stdout %q stderr %q, want %q %q", stdout.String(), stderr.String(), tt.wantOut, tt.wantErr)
				}
			})
		}
	}
}

// TestExecRefusals: requests that cannot start answer before upgrading.
func TestExecRefusals(t *testing.T) {
	base, p := startServer(t, &fakeHost{exec: fakeExec})
	c := p.client(t, true)
	tests := []struct {
		path string
		code int
		want string
	}{
		{"/exec/ns/web/nope?command=ls&output=1", 404, `container "nope" in pod "web"`},
		{"/exec/ns/gone/app?command=ls&output=1", 404, `pod "gone" in namespace "ns"`},
		{"/exec/ns/web/other-uid/app?command=ls&output=1", 404, "other-uid"},
		{"/exec/ns/web/app?output=1", 400, "at least one command"},
		{"/exec/ns/web/app?command=ls", 400, "at least 1 of stdin, stdout, stderr"},
	}
	for _, tt := range tests {
		code, body := get(t, c, base+tt.path)
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("GET %s: %d %q, want %d containing %q", tt.path, code, body, tt.code, tt.want)
		}
	}
}
