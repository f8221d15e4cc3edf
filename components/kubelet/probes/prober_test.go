package probes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// hostPort splits an httptest URL.
func hostPort(t *testing.T, raw string) (string, int) {
	t.Helper()
	u, _ := url.Parse(raw)
	h, p, _ := net.SplitHostPort(u.Host)
	n, _ := strconv.Atoi(p)
	return h, n
}

func TestHTTPProbe(t *testing.T) {
	var lastReq *http.Request
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { lastReq = r; fmt.Fprint(w, "fine") })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "secret body", 503) })
	mux.HandleFunc("/local-redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://elsewhere.invalid/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(strings.Repeat("x", 1<<20))) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	tlsSrv := httptest.NewTLSServer(mux)
	t.Cleanup(tlsSrv.Close)
	ip, port := hostPort(t, srv.URL)
	_, tlsPort := hostPort(t, tlsSrv.URL)
	c := &corev1.Container{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}

	tests := []struct {
		name    string
		get     corev1.HTTPGetAction
		success bool
		msg     string
	}{
		{"ok by number", corev1.HTTPGetAction{Path: "/ok", Port: intstr.FromInt(port)}, true, "fine"},
		{"ok by name", corev1.HTTPGetAction{Path: "/ok?x=1", Port: intstr.FromString("http")}, true, "fine"},
		{"number as string", corev1.HTTPGetAction{Path: "/ok", Port: intstr.FromString(strconv.Itoa(port))}, true, "fine"},
		{"failure status", corev1.HTTPGetAction{Path: "/fail", Port: intstr.FromInt(port)}, false, "HTTP probe failed with statuscode: 503"},
		{"local redirect followed", corev1.HTTPGetAction{Path: "/local-redirect", Port: intstr.FromInt(port)}, true, "fine"},
		{"off-host redirect is success", corev1.HTTPGetAction{Path: "/away", Port: intstr.FromInt(port)}, true, "Probe terminated redirects"},
		{"https skips verify", corev1.HTTPGetAction{Path: "/ok", Port: intstr.FromInt(tlsPort), Scheme: corev1.URISchemeHTTPS}, true, "fine"},
		{"timeout", corev1.HTTPGetAction{Path: "/slow", Port: intstr.FromInt(port)}, false, "Timeout"},
		{"refused", corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt(closedPort(t))}, false, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &corev1.Probe{TimeoutSeconds: 1, ProbeHandler: corev1.ProbeHandler{HTTPGet: &tt.get}}
			out, err := Run(context.Background(), p, c, Target{PodIP: ip})
			if err != nil {
				t.Fatal(err)
			}
			if out.Success != tt.success || !strings.Contains(out.Message, tt.msg) {
				t.Errorf("outcome = %+v, want success=%v msg~%q", out, tt.success, tt.msg)
			}
		})
	}

	// Headers: defaults, overrides and Host.
	p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ok", Port: intstr.FromInt(port),
		HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Custom", Value: "v"}, {Name: "Host", Value: "svc.example"}}}}}
	if out, err := Run(context.Background(), p, c, Target{PodIP: ip}); err != nil || !out.Success {
		t.Fatal(out, err)
	}
	if lastReq.UserAgent() != "kube-probe/1.37" || lastReq.Header.Get("Accept") != "*/*" || lastReq.Header.Get("X-Custom") != "v" || lastReq.Host != "svc.example" {
		t.Errorf("request headers = %v host %s", lastReq.Header, lastReq.Host)
	}
	p.HTTPGet.HTTPHeaders = []corev1.HTTPHeader{{Name: "User-Agent", Value: "mine"}, {Name: "Accept", Value: ""}}
	Run(context.Background(), p, c, Target{PodIP: ip})
	if lastReq.UserAgent() != "mine" || lastReq.Header.Get("Accept") != "" {
		t.Errorf("overrides ignored: %v", lastReq.Header)
	}

	p = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/big", Port: intstr.FromInt(port)}}}
	if out, _ := Run(context.Background(), p, c, Target{PodIP: ip}); !out.Success || len(out.Message) != maxOutput {
		t.Errorf("big body: success=%v len=%d", out.Success, len(out.Message))
	}
	p.HTTPGet.Port = intstr.FromString("nope")
	if _, err := Run(context.Background(), p, c, Target{PodIP: ip}); err == nil {
		t.Error("unknown named port is not a prober error")
	}
}

// closedPort returns a loopback port nobody listens on.
func closedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestTCPProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	c := &corev1.Container{Name: "c"}
	open := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt(l.Addr().(*net.TCPAddr).Port)}}}
	if out, err := Run(context.Background(), open, c, Target{PodIP: "127.0.0.1"}); err != nil || !out.Success {
		t.Errorf("open port: %+v %v", out, err)
	}
	closed := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Host: "127.0.0.1", Port: intstr.FromInt(closedPort(t))}}}
	if out, err := Run(context.Background(), closed, c, Target{}); err != nil || out.Success || !strings.Contains(out.Message, "refused") {
		t.Errorf("closed port: %+v %v", out, err)
	}
}

func TestExecProbe(t *testing.T) {
	exec := func(ctx context.Context, cmd []string, timeout time.Duration) (int, []byte, error) {
		switch cmd[0] {
		case "ok":
			return 0, []byte("good"), nil
		case "fail":
			return 1, []byte("bad"), nil
		case "hang":
			<-ctx.Done()
			return -1, nil, ctx.Err()
		}
		return -1, nil, errors.New("container not running")
	}
	tests := []struct {
		cmd     string
		success bool
		msg     string
		err     bool
	}{
		{"ok", true, "good", false},
		{"fail", false, "bad", false},
		{"hang", false, `command ["hang"] timed out`, false},
		{"broken", false, "", true},
	}
	for _, tt := range tests {
		p := &corev1.Probe{TimeoutSeconds: 1, ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{tt.cmd}}}}
		out, err := Run(context.Background(), p, &corev1.Container{}, Target{Exec: exec})
		if (err != nil) != tt.err || out.Success != tt.success || out.Message != tt.msg {
			t.Errorf("%s: %+v %v", tt.cmd, out, err)
		}
	}
	p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"ok"}}}}
	if _, err := Run(context.Background(), p, &corev1.Container{}, Target{}); err == nil {
		t.Error("nil exec accepted")
	}
	if _, err := Run(context.Background(), &corev1.Probe{}, &corev1.Container{}, Target{}); err == nil {
		t.Error("empty probe accepted")
	}
}

func TestGRPCProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("down", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	bare := grpc.NewServer()
	l2, _ := net.Listen("tcp", "127.0.0.1:0")
	go bare.Serve(l2)
	t.Cleanup(bare.Stop)

	port := l.Addr().(*net.TCPAddr).Port
	tests := []struct {
		port    int
		service string
		success bool
		msg     string
	}{
		{port, "", true, "service healthy"},
		{port, "down", false, `service unhealthy (responded with "NOT_SERVING")`},
		{port, "unknown", false, "health rpc probe failed"},
		{l2.Addr().(*net.TCPAddr).Port, "", false, "does not implement the grpc health protocol"},
		{closedPort(t), "", false, "timeout"},
	}
	for _, tt := range tests {
		svc := tt.service
		p := &corev1.Probe{TimeoutSeconds: 1, ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: int32(tt.port), Service: &svc}}}
		out, err := Run(context.Background(), p, &corev1.Container{}, Target{PodIP: "127.0.0.1"})
		if err != nil || out.Success != tt.success || !strings.Contains(out.Message, tt.msg) {
			t.Errorf("%d/%q: %+v %v, want %v %q", tt.port, tt.service, out, err, tt.success, tt.msg)
		}
	}
}

func TestResolvePort(t *testing.T) {
	c := &corev1.Container{Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 8080}}}
	tests := []struct {
		in   intstr.IntOrString
		want int
		err  bool
	}{
		{intstr.FromInt(80), 80, false},
		{intstr.FromString("web"), 8080, false},
		{intstr.FromString("9090"), 9090, false},
		{intstr.FromString("nope"), 0, true},
		{intstr.FromInt(0), 0, true},
		{intstr.FromInt(70000), 0, true},
	}
	for _, tt := range tests {
		got, err := ResolvePort(tt.in, c)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("ResolvePort(%v) = %d %v", tt.in.String(), got, err)
		}
	}
}
