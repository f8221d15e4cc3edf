package testserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func newTestNetexec(t *testing.T) (*netexecServer, *httptest.Server) {
	t.Helper()
	s := newNetexecServer("pod-a", slog.New(slog.DiscardHandler))
	s.now = func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }
	s.dialTimeout = 2 * time.Second
	srv := httptest.NewServer(s.handler())
	t.Cleanup(srv.Close)
	return s, srv
}

func get(t *testing.T, base, path string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

func TestNetexecEndpoints(t *testing.T) {
	t.Parallel()
	_, srv := newTestNetexec(t)
	tests := []struct {
		path     string
		header   []string
		wantCode int
		want     string // exact body, or prefix when it ends in "*"
	}{
		{path: "/", wantCode: 200, want: "NOW: 2025-01-02 03:04:05 +0000 UTC"},
		{path: "/hostname", wantCode: 200, want: "pod-a"},
		{path: "/hostName", wantCode: 200, want: "pod-a"},
		{path: "/echo?msg=hello+world", wantCode: 200, want: "hello world"},
		{path: "/echo?msg=teapot&code=418", wantCode: 418, want: "teapot"},
		{path: "/echo?code=999", wantCode: 400, want: "status \"999\"*"},
		{path: "/clientip", wantCode: 200, want: "127.0.0.1:*"},
		{path: "/header?key=X-Lab", header: []string{"X-Lab", "42"}, wantCode: 200, want: "42"},
		{path: "/healthz", wantCode: 200, want: "ok"},
		{path: "/readyz", wantCode: 200, want: "ok"},
		{path: "/sethealth?status=abc", wantCode: 400, want: "status \"abc\"*"},
		{path: "/setready", wantCode: 400, want: "status \"\"*"},
		{path: "/exit?code=256", wantCode: 400, want: "code \"256\"*"},
		{path: "/shell", wantCode: 400, want: "missing cmd*"},
		{path: "/nope", wantCode: 404, want: "404 page not found\n"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			code, body := get(t, srv.URL, tt.path, tt.header...)
			if code != tt.wantCode {
				t.Errorf("GET %s: status %d, want %d (body %q)", tt.path, code, tt.wantCode, body)
			}
			if prefix, ok := strings.CutSuffix(tt.want, "*"); ok {
				if !strings.HasPrefix(body, prefix) {
					t.Errorf("GET %s: body %q, want prefix %q", tt.path, body, prefix)
				}
			} else if body != tt.want {
				t.Errorf("GET %s: body %q, want %q", tt.path, body, tt.want)
			}
		})
	}
}

// A liveness/readiness test flips the probe answer, then the probe sees it.
func TestNetexecSetProbes(t *testing.T) {
	t.Parallel()
	s, srv := newTestNetexec(t)
	steps := []struct {
		path     string
		wantCode int
	}{
		{"/sethealth?status=500", 200},
		{"/healthz", 500},
		{"/readyz", 200}, // independent of health
		{"/setready?status=503", 200},
		{"/readyz", 503},
		{"/sethealth?status=200", 200},
		{"/healthz", 200},
		{"/setready?status=200", 200},
		{"/readyz", 200},
	}
	for _, st := range steps {
		if code, body := get(t, srv.URL, st.path); code != st.wantCode {
			t.Fatalf("GET %s: status %d (%q), want %d", st.path, code, body, st.wantCode)
		}
	}
	s.shuttingDown.Store(true)
	if code, _ := get(t, srv.URL, "/readyz"); code != 503 {
		t.Errorf("readyz while shutting down: %d, want 503", code)
	}
}

func TestNetexecShell(t *testing.T) {
	t.Parallel()
	_, srv := newTestNetexec(t)
	tests := []struct {
		query   string
		want    map[string]string
		wantErr bool
	}{
		{query: "cmd=" + url.QueryEscape("echo hi"), want: map[string]string{"output": "hi\n"}},
		{query: "shellCommand=" + url.QueryEscape("echo agnhost"), want: map[string]string{"output": "agnhost\n"}},
		{query: "cmd=" + url.QueryEscape("echo oops >&2; exit 3"), want: map[string]string{"output": "oops\n", "error": "exit status 3"}},
	}
	for _, tt := range tests {
		code, body := get(t, srv.URL, "/shell?"+tt.query)
		var got map[string]string
		if err := json.Unmarshal([]byte(body), &got); err != nil || code != 200 {
			t.Fatalf("/shell?%s: status %d body %q: %v", tt.query, code, body, err)
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("/shell?%s: %s = %q, want %q", tt.query, k, got[k], v)
			}
		}
		if _, has := got["error"]; has != (tt.want["error"] != "") {
			t.Errorf("/shell?%s: got %v, want error key only when the command fails", tt.query, got)
		}
	}
}

func TestNetexecDial(t *testing.T) {
	t.Parallel()
	_, srv := newTestNetexec(t)
	// The peer: another netexec, reached over HTTP and over UDP.
	peer := newNetexecServer("pod-b", slog.New(slog.DiscardHandler))
	peerHTTP := httptest.NewServer(peer.handler())
	t.Cleanup(peerHTTP.Close)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	udpDone := make(chan error, 1)
	go func() { udpDone <- serveUDP(ctx, pc, peer.udpAnswer) }()
	t.Cleanup(func() {
		cancel()
		if err := <-udpDone; err != nil {
			t.Errorf("udp server: %v", err)
		}
	})
	// A port nothing listens on, for the error path.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := dead.Addr().(*net.TCPAddr).Port
	dead.Close()

	httpPort := peerHTTP.Listener.Addr().(*net.TCPAddr).Port
	udpPort := pc.LocalAddr().(*net.UDPAddr).Port
	dial := func(v url.Values) (int, dialResult) {
		code, body := get(t, srv.URL, "/dial?"+v.Encode())
		var res dialResult
		if code == 200 {
			if err := json.Unmarshal([]byte(body), &res); err != nil {
				t.Fatalf("dial %v: body %q: %v", v, body, err)
			}
			if res.Responses == nil || res.Errors == nil {
				t.Errorf("dial %v: body %q: lists must be [] not null", v, body)
			}
		}
		return code, res
	}
	q := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	itoa := strconv.Itoa

	tests := []struct {
		name          string
		query         url.Values
		wantCode      int
		wantResponses []string
		wantErrors    int
	}{
		{name: "http hostname x3", query: q("request", "hostname", "host", "127.0.0.1", "port", itoa(httpPort), "tries", "3"),
			wantCode: 200, wantResponses: []string{"pod-b", "pod-b", "pod-b"}},
		{name: "http echo", query: q("request", "echo?msg=hi", "host", "127.0.0.1", "port", itoa(httpPort), "protocol", "http"),
			wantCode: 200, wantResponses: []string{"hi"}},
		{name: "http 500 is an error", query: q("request", "echo?code=500", "host", "127.0.0.1", "port", itoa(httpPort)),
			wantCode: 200, wantResponses: []string{}, wantErrors: 1},
		{name: "udp hostname", query: q("request", "hostname", "host", "127.0.0.1", "port", itoa(udpPort), "protocol", "udp", "tries", "2"),
			wantCode: 200, wantResponses: []string{"pod-b", "pod-b"}},
		{name: "udp echo", query: q("request", "echo hello", "host", "127.0.0.1", "port", itoa(udpPort), "protocol", "udp"),
			wantCode: 200, wantResponses: []string{"hello"}},
		{name: "refused", query: q("request", "hostname", "host", "127.0.0.1", "port", itoa(deadPort), "tries", "2"),
			wantCode: 200, wantResponses: []string{}, wantErrors: 2},
		{name: "missing host", query: q("request", "hostname", "port", "80"), wantCode: 400},
		{name: "bad port", query: q("request", "hostname", "host", "127.0.0.1", "port", "0"), wantCode: 400},
		{name: "bad tries", query: q("request", "hostname", "host", "127.0.0.1", "port", "80", "tries", "1000"), wantCode: 400},
		{name: "bad protocol", query: q("request", "hostname", "host", "127.0.0.1", "port", "80", "protocol", "sctp"), wantCode: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, res := dial(tt.query)
			if code != tt.wantCode {
				t.Fatalf("status %d, want %d", code, tt.wantCode)
			}
			if code != 200 {
				return
			}
			if strings.Join(res.Responses, ",") != strings.Join(tt.wantResponses, ",") || len(res.Errors) != tt.wantErrors {
				t.Errorf("got %+v, want responses %q and %d errors", res, tt.wantResponses, tt.wantErrors)
			}
		})
	}
}

// run ends the right way for each of its four triggers.
func TestNetexecRunLifecycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		trigger  func(t *testing.T, base string, cancel context.CancelCauseFunc)
		wantCode int
	}{
		{name: "exit", wantCode: 3, trigger: func(t *testing.T, base string, _ context.CancelCauseFunc) {
			if code, body := get(t, base, "/exit?code=3"); code != 200 || body != "exiting with code 3" {
				t.Errorf("/exit: %d %q", code, body)
			}
		}},
		{name: "shutdown", wantCode: 0, trigger: func(t *testing.T, base string, _ context.CancelCauseFunc) {
			if code, body := get(t, base, "/shutdown"); code != 200 || body != "shutting down" {
				t.Errorf("/shutdown: %d %q", code, body)
			}
		}},
		{name: "sigterm", wantCode: 0, trigger: func(_ *testing.T, _ string, cancel context.CancelCauseFunc) {
			cancel(errors.New("got signal terminated"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			s := newNetexecServer("pod-a", slog.New(slog.DiscardHandler))
			done := make(chan error, 1)
			go func() { done <- s.run(ctx, ln, pc, 0) }()
			base := "http://" + ln.Addr().String()
			if code, _ := get(t, base, "/healthz"); code != 200 {
				t.Fatalf("healthz before trigger: %d", code)
			}
			tt.trigger(t, base, cancel)
			select {
			case err := <-done:
				if got := exitCode(err); got != tt.wantCode {
					t.Errorf("run returned %v (code %d), want code %d", err, got, tt.wantCode)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("run did not return")
			}
			if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
				t.Error("still listening after run returned")
			}
		})
	}
}

// During --delay-shutdown the server still answers, but /readyz fails.
func TestNetexecDelayShutdown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	s := newNetexecServer("pod-a", slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, ln, nil, 500*time.Millisecond) }()
	base := "http://" + ln.Addr().String()
	get(t, base, "/healthz") // wait until serving
	cancel(errors.New("got signal terminated"))
	time.Sleep(100 * time.Millisecond)
	if code, _ := get(t, base, "/readyz"); code != 503 {
		t.Errorf("readyz during delay: %d, want 503", code)
	}
	if code, body := get(t, base, "/hostname"); code != 200 || body != "pod-a" {
		t.Errorf("hostname during delay: %d %q", code, body)
	}
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
