package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kubelab/kubelab/components/apiserver/rest"
	"github.com/kubelab/kubelab/components/version"
)

// apiHandler routes the non-resource endpoints and hands every resource
// path to the generic REST handler.
func (s *Server) apiHandler() http.Handler {
	h := &rest.Handler{Registry: s.Registry, ParseFields: parseFieldSelector, Authorizer: s.authorizer, Kubelet: s.kubelet}
	disc := &rest.Discovery{Registry: s.Registry}
	oapi := &rest.OpenAPI{Registry: s.Registry}
	mux := http.NewServeMux()
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, version.Info()) })
	mux.HandleFunc("/healthz", s.health)
	mux.HandleFunc("/livez", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("/readyz", s.health)
	mux.Handle("/metrics", promhttp.HandlerFor(metricsRegistry, promhttp.HandlerOpts{}))
	mux.Handle("/openapi/v3", oapi)
	mux.Handle("/openapi/v3/", oapi)
	mux.HandleFunc("/api", disc.ServeAPI)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		if strings.Trim(r.URL.Path, "/") == "api/v1" {
			serveResourceList(w, r, disc, "", "v1")
			return
		}
		h.ServeHTTP(w, r)
	})
	mux.HandleFunc("/apis", disc.ServeAPIs)
	mux.HandleFunc("/apis/", func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		switch len(parts) {
		case 1, 2:
			disc.ServeAPIs(w, r)
		case 3:
			serveResourceList(w, r, disc, parts[1], parts[2])
		default:
			h.ServeHTTP(w, r)
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			writeJSON(w, map[string][]string{"paths": {"/api", "/api/v1", "/apis", "/healthz", "/livez", "/metrics", "/openapi/v3", "/readyz", "/version"}})
			return
		}
		http.NotFound(w, r)
	})
	return mux
}

func serveResourceList(w http.ResponseWriter, r *http.Request, d *rest.Discovery, group, ver string) {
	list := d.ResourceList(group, ver)
	if list == nil {
		http.NotFound(w, r)
		return
	}
	writeJSON(w, list)
}

// health answers ok when etcd answers (/healthz and /readyz).
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.Registry.Etcd().Revision(ctx); err != nil {
		http.Error(w, "[-]etcd failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if r.URL.Query().Has("verbose") {
		_, _ = w.Write([]byte("[+]ping ok\n[+]etcd ok\nhealthz check passed\n"))
		return
	}
	_, _ = w.Write([]byte("ok"))
}

func writeJSON(w http.ResponseWriter, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Metrics every kube-apiserver exposes, by the same names.
var (
	metricsRegistry = prometheus.NewRegistry()
	requestTotal    = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "apiserver_request_total", Help: "Counter of apiserver requests broken out by verb, group, resource and HTTP response code.",
	}, []string{"verb", "group", "resource", "subresource", "code"})
	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "apiserver_request_duration_seconds", Help: "Response latency distribution in seconds for each verb, group and resource.",
		Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"verb", "group", "resource"})
)

func init() {
	metricsRegistry.MustRegister(requestTotal, requestDuration, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Hijack lets pods/exec and friends take over the connection: the
// upgrade-aware proxy asserts http.Hijacker on the writer it is given.
func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	s.code = http.StatusSwitchingProtocols
	return http.NewResponseController(s.ResponseWriter).Hijack()
}

// withMetrics counts requests and their latency (watches excluded from latency).
func withMetrics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		ri := rest.ParseRequestInfo(r)
		verb := ri.Verb
		if !ri.IsResource {
			verb = strings.ToUpper(r.Method)
		}
		requestTotal.WithLabelValues(verb, ri.Group, ri.Resource, ri.Subresource, fmt.Sprint(rec.code)).Inc()
		if verb != "watch" {
			requestDuration.WithLabelValues(verb, ri.Group, ri.Resource).Observe(time.Since(start).Seconds())
		}
		slog.Debug("request", "method", r.Method, "path", r.URL.Path, "code", rec.code, "duration", time.Since(start))
	})
}

// withRecovery turns a panic in a handler into a 500 instead of a crash.
func withRecovery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				slog.Error("panic serving request", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				status := apierrors.NewInternalError(fmt.Errorf("%v", v)).ErrStatus
				status.Kind, status.APIVersion = "Status", "v1"
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_ = json.NewEncoder(w).Encode(status)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// etcdLogger keeps the etcd client quiet: its warnings are about retries we
// already handle.
func etcdLogger() *zap.Logger { return zap.NewNop() }

// slogErrorLog routes net/http's internal errors (TLS handshakes of curl
// without -k, ...) to slog at debug level.
func slogErrorLog() *log.Logger {
	return slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug)
}
