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
	"github.com/kubelab/kubelab/components/controllers"
)

func newBenchPodsCommand(s Streams) *cobra.Command {
	var (
		o          bench.PodsOptions
		kubeconfig string
		cpuProfile string
	)
	cmd := &cobra.Command{
		Use:   "pods",
		Short: "Pod start-up latency on a real node: create → Running",
		Long: `pods times how fast a node starts pods: one pod alone (the floor), then
--pods pods created at once, each from its create call to the watch event
that shows it Running (what 'kubectl get pods -w' would show). It prints
min/p50/p90/p99/max.

Without --kubeconfig it starts what 'kubelab up' starts, in a temporary
directory, and also reports how long the cluster took to have a Ready node
(needs root). With --kubeconfig, --node picks the node (default: let the
scheduler place the pods).

Where the time goes, per pod: the scheduler's binding, the kubelet's sandbox
(namespaces, veth, IP), one container start through its monitor and
libcontainer (~15 ms of work on an idle machine), and status writes. A burst
of 100 is bounded by how many container starts the node's CPUs can do.`,
		Example: `  sudo kubelab bench pods
  sudo kubelab bench pods --pods 30
  kubelab bench pods --kubeconfig ~/.kube/config --node node-0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if cpuProfile != "" {
				out, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer out.Close()
				if err := pprof.StartCPUProfile(out); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			path := kubeconfig
			if path == "" {
				if os.Geteuid() != 0 {
					return fmt.Errorf("a node runs containers: run as root, or measure a running cluster with --kubeconfig")
				}
				dir, err := os.MkdirTemp("", "kubelab-bench-pods-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				start := time.Now()
				cp, err := cluster.StartControlPlane(ctx, cluster.ControlPlaneOptions{Name: "bench", Dir: dir, Port: -1, EtcdPort: -1,
					Controllers: []string{"*"}, Scheduler: true,
					ControllerSettings: controllers.Settings{AllocateNodeCIDRs: true, ClusterCIDRs: []string{"10.200.0.0/16"}}})
				if err != nil {
					return err
				}
				// Stop the control plane and kubelet, then remove what the
				// node leaves running by design.
				defer func() {
					cp.Stop()
					_, _ = cluster.Down(ctx, cluster.DownOptions{Name: "bench", Dir: dir})
				}()
				k, err := cp.StartKubelet(ctx, cluster.LocalKubeletOptions{NodeName: "bench-node", Port: -1})
				if err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "cluster with a Ready node in %s (what 'kubelab up' does)\n", time.Since(start).Round(time.Millisecond))
				o.Node = k.NodeName()
				path = cp.AdminKubeconfig
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", path)
			if err != nil {
				return fmt.Errorf("load kubeconfig %s: %w", path, err)
			}
			fmt.Fprintf(s.Out, "starting %d pods of %s…\n", o.Pods, imageOr(o.Image))
			rep, err := bench.Pods(ctx, cfg, o)
			if err != nil {
				return err
			}
			rep.Write(s.Out)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Pods, "pods", 100, "pods created at once")
	f.IntVar(&o.Creators, "creators", 10, "concurrent clients creating them")
	f.StringVar(&o.Node, "node", "", "with --kubeconfig: put every pod on this node")
	f.StringVar(&o.Image, "image", "", "image to run (default localhost/kubelab/testserver:v1)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "measure this cluster instead of a fresh in-process one")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of this process (client, in-process control plane and kubelet) to this file")
	return cmd
}

func imageOr(img string) string {
	if img == "" {
		return "localhost/kubelab/testserver:v1"
	}
	return img
}
