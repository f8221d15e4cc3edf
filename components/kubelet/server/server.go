// Package server is the kubelet API of the picture: the HTTPS port (10250)
// on every node that the API server calls for `kubectl logs` and
// `kubectl exec`. The kubelet serves it; the API server is its only
// intended client.
//
//	kubectl ──HTTPS──> kube-apiserver ──HTTPS, client cert──> kubelet :10250 (this package)
//	                   pods/log   proxies to  GET  /containerLogs/{ns}/{pod}/{container}
//	                   pods/exec  proxies to  POST /exec/{ns}/{pod}/{container}   (SPDY or WebSocket upgrade)
//
// The server knows nothing about containers: it asks a Host (the kubelet
// core) where a container's log file is and to run a command, and turns the
// answers into HTTP. Logs are read straight from the CRI-format files (see
// kubelet/crilog); exec streams are handled by k8s.io/cri-streaming, the
// same code the real kubelet's container runtimes use, so kubectl and
// client-go find exactly the protocol they expect.
//
// Authentication is TLS client certificates checked against --client-ca-file:
// a request without a verified certificate gets 401. Every authenticated
// caller may do everything for now; the real kubelet asks the API server
// (SubjectAccessReview, "webhook" authorization), which comes with RBAC.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubelab/kubelab/components/kubelet/runtime"
)

// Host is what the server needs from the kubelet core.
type Host interface {
	// ContainerLog locates a container's CRI log file; previous selects the
	// attempt before the current one. done is closed once that container has
	// exited (a follow stops after draining the file). Errors wrapping
	// ErrNotFound answer 404, others 400 — the real kubelet's
	// `container "x" in pod "y" is waiting to start: ContainerCreating` is a
	// 400, and its message reaches kubectl as is.
	ContainerLog(namespace, pod, container string, previous bool) (path string, done <-chan struct{}, err error)
	// Exec runs cfg.Cmd in a running container and returns when the command
	// has exited (and its output has been copied). err is for failures to
	// run it at all; a command that ran and failed reports its exitCode.
	Exec(ctx context.Context, namespace, pod, uid, container string, cfg runtime.ExecConfig) (exitCode int, err error)
	// Pods are the pods bound to this node, as the kubelet last saw them.
	Pods() []*corev1.Pod
}

// Attacher is optionally implemented by a Host that can connect to a
// running container's own stdio (`kubectl attach`, `kubectl run -it`).
// Without it /attach answers 501.
type Attacher interface {
	// Attach streams cfg's stdio to the container's main process until the
	// client or the container goes away. cfg.Cmd is unused.
	Attach(ctx context.Context, namespace, pod, uid, container string, cfg runtime.ExecConfig) error
}

// ErrNotFound is wrapped by Host errors that mean "no such pod, container or
// log": the server answers 404.
var ErrNotFound = errors.New("not found")

// Options configure the server; the file names mirror the kubelet's flags.
type Options struct {
	Host Host
	// Address is where ListenAndServe listens (--address:--port, ":10250").
	Address string
	// TLSCertFile and TLSPrivateKeyFile are the serving certificate
	// (--tls-cert-file, --tls-private-key-file). Its SANs must include the
	// node address the API server dials (status.addresses).
	TLSCertFile, TLSPrivateKeyFile string
	// ClientCAFile verifies client certificates (--client-ca-file); the API
	// server presents its --kubelet-client-certificate.
	ClientCAFile string
	// StreamIdleTimeout closes exec sessions with no traffic
	// (--streaming-connection-idle-timeout, 4h).
	StreamIdleTimeout time.Duration
	// LogPollInterval is how often a follow looks for new log lines (100ms).
	LogPollInterval time.Duration
}

// Server is a configured kubelet API.
type Server struct {
	opts    Options
	tls     *tls.Config
	handler http.Handler
}

// New loads the certificates and builds the routes.
func New(opts Options) (*Server, error) {
	if opts.Host == nil {
		return nil, errors.New("kubelet server: no Host")
	}
	if opts.Address == "" {
		opts.Address = ":10250"
	}
	if opts.StreamIdleTimeout == 0 {
		opts.StreamIdleTimeout = 4 * time.Hour
	}
	if opts.LogPollInterval == 0 {
		opts.LogPollInterval = 100 * time.Millisecond
	}
	if opts.TLSCertFile == "" || opts.TLSPrivateKeyFile == "" {
		return nil, errors.New("kubelet server: --tls-cert-file and --tls-private-key-file are required")
	}
	if opts.ClientCAFile == "" {
		return nil, errors.New("kubelet server: --client-ca-file is required (the API server authenticates with a client certificate)")
	}
	cert, err := tls.LoadX509KeyPair(opts.TLSCertFile, opts.TLSPrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("load kubelet serving certificate %s: %w", opts.TLSCertFile, err)
	}
	caPEM, err := os.ReadFile(opts.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("read client CA %s: %w", opts.ClientCAFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("client CA %s: no PEM certificates", opts.ClientCAFile)
	}
	s := &Server{opts: opts}
	s.tls = &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		// VerifyClientCertIfGiven rather than Require: a request without a
		// certificate must still reach HTTP so it gets a 401 it can read,
		// not a TLS alert.
		ClientAuth: tls.VerifyClientCertIfGiven,
		MinVersion: tls.VersionTLS12,
		// HTTP/1.1 only: SPDY and WebSocket upgrades do not exist in HTTP/2.
		NextProtos: []string{"http/1.1"},
	}
	s.handler = s.routes()
	return s, nil
}

// Handler is the whole request chain (authentication included), for tests
// that bring their own TLS listener.
func (s *Server) Handler() http.Handler { return s.handler }

// TLSConfig is the serving configuration (certificate, client CA).
func (s *Server) TLSConfig() *tls.Config { return s.tls.Clone() }

// ListenAndServe serves on Options.Address until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context) error {
	l, err := net.Listen("tcp", s.opts.Address)
	if err != nil {
		return fmt.Errorf("kubelet server: listen on %s: %w", s.opts.Address, err)
	}
	return s.Serve(ctx, l)
}

// Serve serves HTTPS on l until ctx ends; it closes l.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(l, s.tls)) }()
	slog.Info("kubelet API serving", "address", l.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("kubelet server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Hijacked exec connections are not tracked by Shutdown; they end when
	// their commands do.
	_ = srv.Shutdown(sctx)
	return nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /pods", s.pods)
	mux.HandleFunc("GET /pods/{$}", s.pods)
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.containerLogs)
	for _, p := range []string{"/exec/{namespace}/{pod}/{container}", "/exec/{namespace}/{pod}/{uid}/{container}"} {
		mux.HandleFunc("GET "+p, s.exec)
		mux.HandleFunc("POST "+p, s.exec)
	}
	for _, p := range []string{"/attach/{namespace}/{pod}/{container}", "/attach/{namespace}/{pod}/{uid}/{container}"} {
		mux.HandleFunc("GET "+p, s.attach)
		mux.HandleFunc("POST "+p, s.attach)
	}
	mux.HandleFunc("GET /images", s.listImages) // kubelab's own extension, see images.go
	mux.HandleFunc("POST /images/load", s.loadImages)
	for _, p := range []string{"/portForward/{namespace}/{pod}", "/portForward/{namespace}/{pod}/{uid}"} {
		mux.HandleFunc("GET "+p, s.portForward)
		mux.HandleFunc("POST "+p, s.portForward)
	}
	return authenticate(mux)
}

// authenticate lets through requests that presented a certificate the
// client CA verified (the TLS handshake did the verifying), and /healthz.
func authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
			slog.Debug("kubelet API: request without a verified client certificate", "path", r.URL.Path, "remote", r.RemoteAddr)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// pods answers like the kubelet's /pods: a v1 PodList of this node's pods.
func (s *Server) pods(w http.ResponseWriter, r *http.Request) {
	list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}}
	for _, p := range s.opts.Host.Pods() {
		list.Items = append(list.Items, *p)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&list)
}

// findPod looks a pod and container up in the Host's pods, so that requests
// for unknown ones get a clear 404 before any streaming starts.
func (s *Server) findPod(namespace, name, uid, container string) (*corev1.Pod, error) {
	for _, p := range s.opts.Host.Pods() {
		if p.Namespace != namespace || p.Name != name || (uid != "" && string(p.UID) != uid) {
			continue
		}
		if !hasContainer(p, container) {
			return nil, fmt.Errorf("container %q in pod %q: %w", container, name, ErrNotFound)
		}
		return p, nil
	}
	if uid != "" {
		return nil, fmt.Errorf("pod %q with UID %s in namespace %q: %w", name, uid, namespace, ErrNotFound)
	}
	return nil, fmt.Errorf("pod %q in namespace %q: %w", name, namespace, ErrNotFound)
}

func hasContainer(p *corev1.Pod, name string) bool {
	for _, c := range p.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range p.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// writeError answers with a plain-text message, as the kubelet does; the
// API server passes the text on to kubectl.
func writeError(w http.ResponseWriter, err error) {
	code := http.StatusBadRequest
	if errors.Is(err, ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		code = http.StatusNotFound
	}
	http.Error(w, err.Error(), code)
}
