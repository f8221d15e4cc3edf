package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream/wsstream"
	utilexec "k8s.io/utils/exec"

	"github.com/kubelab/kubelab/components/kubelet/runtime"
)

// streamCreationTimeout bounds how long a client may take to open its
// streams after the upgrade (the kubelet's default).
const streamCreationTimeout = 30 * time.Second

// exec serves /exec/{namespace}/{pod}[/{uid}]/{container}?command=..&input=1&output=1&error=1&tty=1
// (the parameter names the API server uses towards the kubelet).
//
// The connection is upgraded to SPDY (kubectl's classic protocol, v1-v4) or
// to a WebSocket: v5.channel.k8s.io, what kubectl tries first since 1.30, is
// served by serveWebSocketV5; older WebSocket protocols by cri-streaming.
func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	ns, pod, uid, ctr := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("uid"), r.PathValue("container")
	if _, err := s.findPod(ns, pod, uid, ctr); err != nil {
		writeError(w, err)
		return
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "you must specify at least one command for the container", http.StatusBadRequest)
		return
	}
	run := func(ctx context.Context, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
		code, err := s.opts.Host.Exec(ctx, ns, pod, uid, ctr, execConfig(ctx, cmd, in, out, errw, tty, resize))
		if err != nil {
			return err
		}
		if code != 0 {
			// ServeExec reports exactly this type as a non-zero exit (the
			// v4 status with an ExitCode cause that kubectl exits with).
			return utilexec.CodeExitError{Err: fmt.Errorf("command %q exited with code %d", cmd, code), Code: code}
		}
		return nil
	}
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(r) {
		serveWebSocketV5(w, r, opts, s.opts.StreamIdleTimeout, run)
		return
	}
	remotecommand.ServeExec(w, r, executor(run), pod, uid, ctr, cmd, opts,
		s.opts.StreamIdleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

// attach serves /attach/...: the container's own stdio, when the Host can.
func (s *Server) attach(w http.ResponseWriter, r *http.Request) {
	ns, pod, uid, ctr := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("uid"), r.PathValue("container")
	a, ok := s.opts.Host.(Attacher)
	if !ok {
		http.Error(w, "attach is not implemented by this kubelet yet: use kubectl exec (or kubectl logs -f for the output)", http.StatusNotImplemented)
		return
	}
	if _, err := s.findPod(ns, pod, uid, ctr); err != nil {
		writeError(w, err)
		return
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	run := func(ctx context.Context, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
		return a.Attach(ctx, ns, pod, uid, ctr, execConfig(ctx, nil, in, out, errw, tty, resize))
	}
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(r) {
		serveWebSocketV5(w, r, opts, s.opts.StreamIdleTimeout, run)
		return
	}
	remotecommand.ServeAttach(w, r, attacher(run), pod, uid, ctr, opts,
		s.opts.StreamIdleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

// runFunc runs one exec or attach session over streams already set up.
type runFunc func(ctx context.Context, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error

// executor and attacher adapt a runFunc to cri-streaming's interfaces.
type executor runFunc

func (e executor) ExecInContainer(ctx context.Context, _, _, _ string, _ []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	return e(ctx, in, out, errw, tty, resize)
}

type attacher runFunc

func (a attacher) AttachContainer(ctx context.Context, _, _, _ string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	return a(ctx, in, out, errw, tty, resize)
}

// execConfig translates streams into the runtime's vocabulary. Absent
// streams stay nil (not typed nils), so the Host can tell "no stdin".
// Resize events are forwarded until ctx (the request) ends.
func execConfig(ctx context.Context, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) runtime.ExecConfig {
	cfg := runtime.ExecConfig{Cmd: cmd, TTY: tty}
	if in != nil {
		cfg.Stdin = in
	}
	if out != nil {
		cfg.Stdout = out
	}
	if errw != nil {
		cfg.Stderr = errw
	}
	if resize != nil {
		sizes := make(chan runtime.TerminalSize)
		cfg.Resize = sizes
		go func() {
			defer close(sizes)
			for s := range resize {
				select {
				case sizes <- runtime.TerminalSize{Width: s.Width, Height: s.Height}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return cfg
}
