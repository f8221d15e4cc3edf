package cli

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubelab/kubelab/components/bench"
	"github.com/kubelab/kubelab/components/cluster"
)

// NewBenchCommand builds `kubelab bench`.
func NewBenchCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a cluster: API latency, scheduler throughput, pod start-up",
	}
	cmd.AddCommand(newBenchAPICommand(s))
	cmd.AddCommand(newBenchSchedulerCommand(s))
	cmd.AddCommand(newBenchPodsCommand(s))
	return cmd
}

func newBenchAPICommand(s Streams) *cobra.Command {
	var (
		o           bench.APIOptions
		kubeconfig  string
		etcdServers []string
		cpuProfile  string
	)
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Create/get/list/watch latency at a steady write rate",
		Long: `api writes ConfigMaps at a steady rate (default 200/s), reads each one
back, lists the namespace every second and watches it, then prints p50/p90/p99
latency per operation, and how long a watch event took to arrive after its
write returned.

Without --kubeconfig it starts its own control plane in a temporary
directory: embedded etcd, or the etcd at --etcd-servers.`,
		Example: `  kubelab bench api
  kubelab bench api --etcd-servers http://127.0.0.1:2379 --rate 200 --duration 30s
  kubelab bench api --kubeconfig ~/.kube/config`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, done, err := benchTarget(ctx, s, benchFlags{kubeconfig, etcdServers, cpuProfile})
			if err != nil {
				return err
			}
			defer done()
			fmt.Fprintf(s.Out, "writing %d ConfigMaps/s for %s…\n", o.Rate, o.Duration)
			report, err := bench.API(ctx, cfg, o)
			if err != nil {
				return err
			}
			report.Write(s.Out)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Rate, "rate", 200, "creates per second")
	f.DurationVar(&o.Duration, "duration", 20*time.Second, "how long to write")
	f.IntVar(&o.Payload, "payload", 256, "bytes of data per ConfigMap")
	f.StringVar(&kubeconfig, "kubeconfig", "", "measure this cluster instead of a fresh in-process one")
	f.StringSliceVar(&etcdServers, "etcd-servers", nil, "for the in-process control plane: use this etcd instead of an embedded one")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of this process (client and in-process control plane) to this file")
	return cmd
}

// benchFlags are the flags every bench subcommand shares.
type benchFlags struct {
	kubeconfig  string
	etcdServers []string
	cpuProfile  string
}

// benchTarget starts the CPU profile (if asked) and returns the cluster to
// measure: --kubeconfig's, or a fresh in-process control plane in a
// temporary directory (embedded etcd, or --etcd-servers). done stops both.
func benchTarget(ctx context.Context, s Streams, f benchFlags) (_ *rest.Config, _ func(), err error) {
	var cleanups []func()
	stop := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	if f.cpuProfile != "" {
		out, err := os.Create(f.cpuProfile)
		if err != nil {
			return nil, nil, err
		}
		cleanups = append(cleanups, func() { out.Close() })
		if err := pprof.StartCPUProfile(out); err != nil {
			return nil, nil, err
		}
		cleanups = append(cleanups, pprof.StopCPUProfile)
	}
	path := f.kubeconfig
	if path == "" {
		dir, err := os.MkdirTemp("", "kubelab-bench-")
		if err != nil {
			return nil, nil, err
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		cp, err := cluster.StartControlPlane(ctx, cluster.ControlPlaneOptions{Name: "bench", Dir: dir, Port: -1, EtcdPort: -1, EtcdServers: f.etcdServers})
		if err != nil {
			return nil, nil, err
		}
		cleanups = append(cleanups, cp.Stop)
		path = cp.AdminKubeconfig
		etcd := cp.EtcdURL + " (embedded)"
		if len(f.etcdServers) > 0 {
			etcd = fmt.Sprint(f.etcdServers)
		}
		fmt.Fprintf(s.Out, "control plane %s, etcd %s\n", cp.URL, etcd)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, nil, fmt.Errorf("load kubeconfig %s: %w", path, err)
	}
	return cfg, stop, nil
}
