package cli

import (
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubelab/kubelab/components/bench"
	"github.com/kubelab/kubelab/components/cluster"
)

// NewBenchCommand builds `kubelab bench`.
func NewBenchCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a cluster (API latency, ...)",
	}
	cmd.AddCommand(newBenchAPICommand(s))
	cmd.AddCommand(newBenchSchedulerCommand(s))
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
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			path := kubeconfig
			if path == "" {
				dir, err := os.MkdirTemp("", "kubelab-bench-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				cp, err := cluster.StartControlPlane(ctx, cluster.ControlPlaneOptions{Name: "bench", Dir: dir, Port: -1, EtcdPort: -1, EtcdServers: etcdServers})
				if err != nil {
					return err
				}
				defer cp.Stop()
				path = cp.AdminKubeconfig
				etcd := cp.EtcdURL + " (embedded)"
				if len(etcdServers) > 0 {
					etcd = fmt.Sprint(etcdServers)
				}
				fmt.Fprintf(s.Out, "control plane %s, etcd %s\n", cp.URL, etcd)
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", path)
			if err != nil {
				return fmt.Errorf("load kubeconfig %s: %w", path, err)
			}
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
