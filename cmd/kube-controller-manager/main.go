// Command kube-controller-manager runs the cluster's control loops
// (namespace deletion, garbage collection, …) against an API server.
// All the logic lives in components/controllers; this is flags, signals and
// the health/metrics endpoint.
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
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/kubelab/kubelab/components/controllers"
	"github.com/kubelab/kubelab/components/leader"
	"github.com/kubelab/kubelab/components/logging"
	"github.com/kubelab/kubelab/components/version"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "kube-controller-manager:", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	var (
		o                        = controllers.Options{Settings: controllers.DefaultSettings(), LeaderElection: leader.Defaults("kube-controller-manager")}
		clusterCIDR, serviceCIDR string
		bindAddress              string
		port                     int
		logFormat                string
		verbosity                int
	)
	cmd := &cobra.Command{
		Use:   "kube-controller-manager",
		Short: "Run the control loops that drive the cluster toward its desired state",
		Long: `kube-controller-manager runs many controllers in one process. Each watches
the API server (list+watch through informers), compares what is with what
should be, and acts through the API: it never talks to etcd.

Controllers: ` + strings.Join(controllers.KnownControllers(), ", ") + `

It serves /healthz, /readyz and /metrics over plain HTTP on --bind-address
and --port (upstream serves HTTPS on --secure-port; that comes with the
security lab).

Example (the hard way's controller node):

  kube-controller-manager --kubeconfig=kube-controller-manager.kubeconfig \
    --controllers='*'`,
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
			o.Settings.ClusterCIDRs = splitList(clusterCIDR)
			o.Settings.ServiceCIDRs = splitList(serviceCIDR)
			if port > 0 {
				srv, err := serveHealth(net.JoinHostPort(bindAddress, strconv.Itoa(port)), &ready)
				if err != nil {
					return err
				}
				defer shutdown(srv)
			}
			return controllers.Run(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig with the API server's address and this component's credentials (default: in-cluster)")
	f.StringSliceVar(&o.Controllers, "controllers", []string{"*"},
		"controllers to run: '*' for all, 'name' to enable one, '-name' to disable one (known: "+strings.Join(controllers.KnownControllers(), ", ")+")")
	st := &o.Settings
	f.DurationVar(&st.NodeMonitorPeriod, "node-monitor-period", st.NodeMonitorPeriod, "how often the node lifecycle controller checks node heartbeats")
	f.DurationVar(&st.NodeMonitorGracePeriod, "node-monitor-grace-period", st.NodeMonitorGracePeriod,
		"how long a node may miss heartbeats before it is marked Ready=Unknown and tainted node.kubernetes.io/unreachable")
	f.DurationVar(&st.NodeStartupGracePeriod, "node-startup-grace-period", st.NodeStartupGracePeriod, "how long a new node may take to first report Ready")
	f.Float32Var(&st.NodeEvictionRate, "node-eviction-rate", st.NodeEvictionRate, "nodes per second whose pods may be evicted (NoExecute taint) in a healthy zone")
	f.Float32Var(&st.SecondaryNodeEvictionRate, "secondary-node-eviction-rate", st.SecondaryNodeEvictionRate, "the same in a partially disrupted zone of a large cluster")
	f.Float32Var(&st.UnhealthyZoneThreshold, "unhealthy-zone-threshold", st.UnhealthyZoneThreshold, "share of not-ready nodes (at least 3) that makes a zone partially disrupted")
	f.IntVar(&st.LargeClusterSizeThreshold, "large-cluster-size-threshold", st.LargeClusterSizeThreshold, "above this many nodes a disrupted zone keeps evicting slowly instead of stopping")
	f.BoolVar(&st.AllocateNodeCIDRs, "allocate-node-cidrs", false, "give each node a pod CIDR from --cluster-cidr in spec.podCIDR(s)")
	f.StringVar(&clusterCIDR, "cluster-cidr", "", "the pod network, e.g. 10.200.0.0/16 (two comma-separated CIDRs for dual-stack)")
	f.IntVar(&st.NodeCIDRMaskSizeIPv4, "node-cidr-mask-size-ipv4", st.NodeCIDRMaskSizeIPv4, "prefix length of each node's IPv4 pod CIDR")
	f.IntVar(&st.NodeCIDRMaskSizeIPv6, "node-cidr-mask-size-ipv6", st.NodeCIDRMaskSizeIPv6, "prefix length of each node's IPv6 pod CIDR")
	f.StringVar(&serviceCIDR, "service-cluster-ip-range", "", "the Service network, kept out of node pod CIDRs")
	f.IntVar(&st.TerminatedPodGCThreshold, "terminated-pod-gc-threshold", st.TerminatedPodGCThreshold, "terminated pods to keep before the oldest are deleted")
	f.DurationVar(&st.HPASyncPeriod, "horizontal-pod-autoscaler-sync-period", st.HPASyncPeriod, "how often HorizontalPodAutoscalers are evaluated")
	f.DurationVar(&st.HPADownscaleStabilization, "horizontal-pod-autoscaler-downscale-stabilization", st.HPADownscaleStabilization,
		"how far back the autoscaler looks before scaling down (the highest recent recommendation wins)")
	f.StringVar(&st.RootCAFile, "root-ca-file", "", "cluster CA certificate to publish as the kube-root-ca.crt ConfigMap in every namespace")
	leader.AddFlags(f, &o.LeaderElection)
	f.StringVar(&bindAddress, "bind-address", "0.0.0.0", "IP address to serve /healthz, /readyz and /metrics on")
	f.IntVar(&port, "port", 10252, "port to serve /healthz, /readyz and /metrics on over HTTP (0 disables)")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.IntVarP(&verbosity, "v", "v", 0, "log verbosity (1 = debug)")
	version.SetCommand(cmd)
	return cmd
}

// serveHealth serves /healthz (the process is alive), /readyz (the
// controllers are running) and /metrics (Prometheus) until shut down.
func serveHealth(addr string, ready *atomic.Bool) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "controllers not started", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.Handle("/metrics", promhttp.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("health server stopped", "err", err)
		}
	}()
	slog.Info("serving health and metrics", "address", ln.Addr().String())
	return srv, nil
}

func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
