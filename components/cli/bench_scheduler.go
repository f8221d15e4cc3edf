package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubelab/kubelab/components/bench"
)

func newBenchSchedulerCommand(s Streams) *cobra.Command {
	var (
		o           bench.SchedulerOptions
		kubeconfig  string
		etcdServers []string
		cpuProfile  string
	)
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Scheduling throughput and latency with thousands of nodes",
		Long: `scheduler creates --nodes Node objects (Ready, 32 cpu, 256Gi, 110 pods; no
kubelets: nothing runs the pods), runs a kube-scheduler in this process,
creates --pods pods (100m cpu, 128Mi) from --creators concurrent clients, and
watches them get bound. It prints pods/s from the first create to the last
binding, and the create→bound latency distribution.

Without --kubeconfig it starts its own control plane in a temporary
directory: embedded etcd, or the etcd at --etcd-servers. With --kubeconfig
the cluster must not run another scheduler.`,
		Example: `  kubelab bench scheduler
  kubelab bench scheduler --nodes 5000 --pods 20000 --cpuprofile sched.pprof`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, done, err := benchTarget(ctx, s, benchFlags{kubeconfig, etcdServers, cpuProfile})
			if err != nil {
				return err
			}
			defer done()
			fmt.Fprintf(s.Out, "scheduling %d pods on %d nodes…\n", o.Pods, o.Nodes)
			report, err := bench.Scheduler(ctx, cfg, o)
			if err != nil {
				return err
			}
			report.Write(s.Out)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Nodes, "nodes", 5000, "Node objects to create")
	f.IntVar(&o.Pods, "pods", 20000, "pods to schedule")
	f.BoolVar(&o.Backlog, "backlog", false, "create every pod first, then start the scheduler and time how fast it drains them (its own throughput, not bounded by pod creation)")
	f.IntVar(&o.Creators, "creators", 16, "concurrent pod creators")
	f.IntVar(&o.Parallelism, "parallelism", 16, "the scheduler's filter/score workers")
	f.StringVar(&kubeconfig, "kubeconfig", "", "measure this cluster instead of a fresh in-process one")
	f.StringSliceVar(&etcdServers, "etcd-servers", nil, "for the in-process control plane: use this etcd instead of an embedded one")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of this process (client, scheduler and in-process control plane) to this file")
	return cmd
}
