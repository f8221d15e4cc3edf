package testserver

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// netexecServer holds the state the endpoints share: the probe answers a
// test has set, and the channels /exit and /shutdown use to reach run.
type netexecServer struct {
	hostname string
	log      *slog.Logger
	shell    string           // what /shell runs commands with
	now      func() time.Time // the clock for "/", swappable in tests

	health       atomic.Int32 // status /healthz answers
	ready        atomic.Int32 // status /readyz answers while not shutting down
	shuttingDown atomic.Bool  // set on SIGTERM or /shutdown: /readyz answers 503

	exitc        chan int      // /exit sends its code; run exits with it
	shutdownc    chan struct{} // /shutdown closes it
	shutdownOnce sync.Once

	dialTimeout time.Duration // per try of /dial
}

func newNetexecServer(hostname string, log *slog.Logger) *netexecServer {
	s := &netexecServer{
		hostname:    hostname,
		log:         log,
		shell:       "/bin/sh",
		now:         time.Now,
		exitc:       make(chan int, 1),
		shutdownc:   make(chan struct{}),
		dialTimeout: 5 * time.Second,
	}
	s.health.Store(http.StatusOK)
	s.ready.Store(http.StatusOK)
	return s
}

func (s *netexecServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "NOW: %v", s.now())
	})
	mux.HandleFunc("/hostname", s.hostnameHandler)
	mux.HandleFunc("/hostName", s.hostnameHandler)
	mux.HandleFunc("/echo", echoHandler)
	mux.HandleFunc("/clientip", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.RemoteAddr)
	})
	mux.HandleFunc("/header", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get(r.FormValue("key")))
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(w, int(s.health.Load()))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if s.shuttingDown.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		writeStatus(w, int(s.ready.Load()))
	})
	mux.HandleFunc("/sethealth", setStatusHandler(&s.health, "/healthz"))
	mux.HandleFunc("/setready", setStatusHandler(&s.ready, "/readyz"))
	mux.HandleFunc("/dial", s.dialHandler)
	mux.HandleFunc("/shell", s.shellHandler)
	mux.HandleFunc("/exit", s.exitHandler)
	mux.HandleFunc("/shutdown", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "shutting down")
		s.shutdownOnce.Do(func() { close(s.shutdownc) })
	})
	return mux
}

func (s *netexecServer) hostnameHandler(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprint(w, s.hostname)
}

func echoHandler(w http.ResponseWriter, r *http.Request) {
	if c := r.FormValue("code"); c != "" {
		code, err := parseStatus(c)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(code)
	}
	fmt.Fprint(w, r.FormValue("msg"))
}

// writeStatus answers code with a short body: "ok" for 200, else its text.
func writeStatus(w http.ResponseWriter, code int) {
	if code == http.StatusOK {
		fmt.Fprint(w, "ok")
		return
	}
	http.Error(w, http.StatusText(code), code)
}

func setStatusHandler(v *atomic.Int32, endpoint string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		code, err := parseStatus(r.FormValue("status"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		v.Store(int32(code))
		fmt.Fprintf(w, "%s now answers %d", endpoint, code)
	}
}

func parseStatus(s string) (int, error) {
	code, err := strconv.Atoi(s)
	if err != nil || code < 100 || code > 599 {
		return 0, fmt.Errorf("status %q: want an HTTP status code between 100 and 599", s)
	}
	return code, nil
}

// maxShellTime bounds /shell so a forgotten `sleep inf` cannot pile up.
const maxShellTime = time.Minute

func (s *netexecServer) shellHandler(w http.ResponseWriter, r *http.Request) {
	cmd := r.FormValue("cmd")
	if cmd == "" {
		cmd = r.FormValue("shellCommand") // agnhost's parameter name
	}
	if cmd == "" {
		http.Error(w, "missing cmd: try /shell?cmd=hostname", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), maxShellTime)
	defer cancel()
	out, err := exec.CommandContext(ctx, s.shell, "-c", cmd).CombinedOutput()
	result := map[string]string{"output": string(out)}
	if err != nil {
		result["error"] = err.Error()
	}
	writeJSON(w, result)
}

func (s *netexecServer) exitHandler(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.FormValue("code"))
	if err != nil || code < 0 || code > 255 {
		http.Error(w, fmt.Sprintf("code %q: want an exit code between 0 and 255", r.FormValue("code")), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "exiting with code %d", code)
	// Flush so the caller has its answer before the process goes away.
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	select {
	case s.exitc <- code:
	default: // an exit is already under way
	}
}

// udpAnswer is netexec's UDP protocol: one command per datagram.
func (s *netexecServer) udpAnswer(payload []byte, from net.Addr) []byte {
	cmd, arg, _ := strings.Cut(strings.TrimSpace(string(payload)), " ")
	switch cmd {
	case "hostname":
		return []byte(s.hostname)
	case "echo":
		return []byte(arg)
	case "clientip":
		return []byte(from.String())
	}
	return []byte(fmt.Sprintf("unknown command %q: try hostname, echo TEXT, clientip", cmd))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		http.Error(w, fmt.Sprintf("encode json: %v", err), http.StatusInternalServerError)
	}
}
