// Command kube-scheduler assigns pending pods to nodes. All the logic
// lives in components/scheduler; this is flags, signals and the
// health/metrics/explain endpoint.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/kubelab/kubelab/components/leader"
	"github.com/kubelab/kubelab/components/logging"
	"github.com/kubelab/kubelab/components/scheduler"
	"github.com/kubelab/kubelab/components/version"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "kube-scheduler:", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	var (
		o           = scheduler.Options{LeaderElection: leader.Defaults("kube-scheduler")}
		bindAddress string
		port        int
		logFormat   string
		verbosity   int
	)
	cmd := &cobra.Command{
		Use:   "kube-scheduler",
		Short: "Assign pending pods to nodes",
		Long: `kube-scheduler watches for pods without a node, picks the best node for
each (filters rule nodes out, scores rank the rest) and writes the choice
with a Binding. The kubelet on that node then runs the pod.

It serves /healthz, /readyz, /metrics and /debug/scheduler/explain over
plain HTTP on --bind-address and --port (upstream serves HTTPS on 10259;
10251 is the old insecure port). Ask why a pod went where it went:

  curl 'http://127.0.0.1:10251/debug/scheduler/explain?pod=default/nginx'

Example (the hard way's controller node):

  kube-scheduler --config=kube-scheduler.yaml --kubeconfig=kube-scheduler.kubeconfig`,
		SilenceUsage:  true,
		SilenceErrors: true, // main prints the error, once
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := logging.Setup(logFormat, verbosity); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()

			var ready atomic.Bool
			o.Started = func() { ready.Store(true) }
			s, err := scheduler.New(o)
			if err != nil {
				return err
			}
			if port > 0 {
				srv, err := serveHealth(net.JoinHostPort(bindAddress, strconv.Itoa(port)), &ready, s.Handler())
				if err != nil {
					return err
				}
				defer shutdown(srv)
			}
			return s.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig with the API server's address and this component's credentials (default: in-cluster)")
	f.StringVar(&o.ConfigFile, "config", "", "KubeSchedulerConfiguration file (kubescheduler.config.k8s.io/v1): profiles, plugins, scoring strategy")
	f.IntVar(&o.Parallelism, "parallelism", 16, "workers filtering and scoring nodes in parallel")
	leader.AddFlags(f, &o.LeaderElection)
	f.StringVar(&bindAddress, "bind-address", "0.0.0.0", "IP address to serve /healthz, /readyz, /metrics and /debug/scheduler/explain on")
	f.IntVar(&port, "port", 10251, "port to serve them on over HTTP (0 disables)")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.IntVarP(&verbosity, "v", "v", 0, "log verbosity (1 = debug, with a line per scheduling decision)")
	version.SetCommand(cmd)
	return cmd
}

// serveHealth serves /healthz (the process is alive), /readyz (scheduling
// runs), /metrics (Prometheus) and the explain endpoint until shut down.
func serveHealth(addr string, ready *atomic.Bool, explain http.Handler) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "scheduler not started", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.Handle("/metrics", promhttp.Handler())
	mux.Handle(scheduler.ExplainPath, explain)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("health server stopped", "err", err)
		}
	}()
	slog.Info("serving health, metrics and explain", "address", ln.Addr().String())
	return srv, nil
}

func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}
