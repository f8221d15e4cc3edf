package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream/wsstream"
	utilexec "k8s.io/utils/exec"
)

// v5Protocol is the WebSocket remote-command protocol client-go's
// WebSocket executor (and so kubectl exec) speaks. It frames like v4 — one
// byte channel number, then data: 0 stdin, 1 stdout, 2 stderr, 3 status,
// 4 resize — and adds a CLOSE message (255, channel) so the client can end
// stdin without closing the connection (`echo hi | kubectl exec -i -- cat`).
//
// cri-streaming, which the real kubelet uses, stops at v4; upstream's API
// server translates v5 into SPDY for it. Here the kubelet speaks v5 itself,
// so the API server stays a plain upgrade-aware proxy for both protocols.
const v5Protocol = "v5.channel.k8s.io"

const (
	stdinChannel = iota
	stdoutChannel
	stderrChannel
	statusChannel
	resizeChannel
)

// serveWebSocketV5 upgrades the request, runs the session and writes its
// outcome as a metav1.Status on the status channel.
func serveWebSocketV5(w http.ResponseWriter, r *http.Request, opts *remotecommand.Options, idle time.Duration, run runFunc) {
	channel := func(use bool, t wsstream.ChannelType) wsstream.ChannelType {
		if use {
			return t
		}
		return wsstream.IgnoreChannel
	}
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		v5Protocol: {Binary: true, Channels: []wsstream.ChannelType{
			channel(opts.Stdin, wsstream.ReadChannel),
			channel(opts.Stdout, wsstream.WriteChannel),
			channel(opts.Stderr, wsstream.WriteChannel),
			wsstream.WriteChannel,
			channel(opts.TTY, wsstream.ReadChannel),
		}},
	})
	conn.SetIdleTimeout(idle)
	_, streams, err := conn.Open(w, r)
	if err != nil {
		slog.Debug("kubelet API: websocket upgrade failed", "path", r.URL.Path, "err", err)
		return
	}
	defer conn.Close()

	// An empty message on the first writable channel tells the client the
	// streams are up (what cri-streaming does for v4).
	first := statusChannel
	switch {
	case opts.Stdout:
		first = stdoutChannel
	case opts.Stderr:
		first = stderrChannel
	}
	_, _ = streams[first].Write([]byte{})

	var (
		in        io.Reader
		out, errw io.WriteCloser
		resize    chan remotecommand.TerminalSize
	)
	if opts.Stdin {
		in = streams[stdinChannel]
	}
	if opts.Stdout {
		out = streams[stdoutChannel]
	}
	if opts.Stderr {
		errw = streams[stderrChannel]
	}
	if opts.TTY {
		resize = make(chan remotecommand.TerminalSize)
		go decodeResizes(r.Context(), streams[resizeChannel], resize)
	}
	status := sessionStatus(run(r.Context(), in, out, errw, opts.TTY, resize))
	data, err := json.Marshal(status)
	if err == nil {
		_, err = streams[statusChannel].Write(data)
	}
	if err != nil {
		slog.Debug("kubelet API: writing exec status", "err", err)
	}
}

// sessionStatus is the v4/v5 status message: Success, a NonZeroExitCode
// failure carrying the code, or an internal error.
func sessionStatus(err error) *metav1.Status {
	var exit utilexec.ExitError
	switch {
	case err == nil:
		return &metav1.Status{Status: metav1.StatusSuccess}
	case errors.As(err, &exit) && exit.Exited():
		return &metav1.Status{
			Status:  metav1.StatusFailure,
			Reason:  remotecommand.NonZeroExitCodeReason,
			Message: fmt.Sprintf("command terminated with non-zero exit code: %v", err),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{
				Type: remotecommand.ExitCodeCauseType, Message: strconv.Itoa(exit.ExitStatus()),
			}}},
		}
	default:
		return &metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonInternalError,
			Message: fmt.Sprintf("error executing command in container: %v", err)}
	}
}

// decodeResizes reads JSON TerminalSize messages ({"Width":80,"Height":24})
// until the stream or the request ends.
func decodeResizes(ctx context.Context, stream io.Reader, sizes chan<- remotecommand.TerminalSize) {
	defer close(sizes)
	dec := json.NewDecoder(stream)
	for {
		var size remotecommand.TerminalSize
		if err := dec.Decode(&size); err != nil {
			return
		}
		select {
		case sizes <- size:
		case <-ctx.Done():
			return
		}
	}
}
