package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/pki"
)

// NewClusterCommand builds `kubelab cluster` and its verbs.
func NewClusterCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Multi-node clusters on this machine, one network namespace per node",
		Long: `cluster creates, lists and deletes clusters whose nodes are network
namespaces on this machine: the hard way's worker VMs without the VMs.

Each node is a network namespace on a host bridge with its own address on
the node network (10.240.0.20, .21, ...), running the real kubelet with its
own root directory and cgroup parent. The control plane ('kubelab up') runs
on the host end of the bridge, 10.240.0.1. Everything runs in the
background until 'kubelab cluster delete'. Needs root.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newClusterCreateCommand(s), newClusterDeleteCommand(s), newClusterListCommand(s))
	return cmd
}

type clusterCreateOptions struct {
	cluster.NetnsOptions
	kubeconfig string
}

func newClusterCreateCommand(s Streams) *cobra.Command {
	o := &clusterCreateOptions{}
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a cluster of network-namespace nodes (control plane + one kubelet per node)",
		Long: `create builds a cluster on this machine, step by step:

  1. a bridge kl-<name> with 10.240.0.1/24 on the host side (the nodes'
     switch and gateway; no route or NAT to the outside world)
  2. per node: network namespace kubelab-<name>-node-<i>, a veth to the
     bridge, eth0 10.240.0.(20+i)/24 inside
  3. the control plane: 'kubelab up --bind-address 10.240.0.1 --no-kubelet',
     in the background (its node IPAM controller gives each node a pod
     CIDR 10.200.<i>.0/24)
  4. per node: a client certificate (CN=system:node:<node>, O=system:nodes),
     a serving certificate, a kubeconfig, and the kubelet, inside the
     node's namespace, in the background
  5. waits for every Node to be Ready, then merges the admin context
     <name> into your kubeconfig

State, certificates and logs are in ~/.kubelab/clusters/<name>. If a step
fails, what was made is removed again (unless --keep-on-failure).`,
		Example: `  sudo kubelab cluster create --nodes 2
  kubectl get nodes -o wide
  sudo ip netns exec kubelab-kubelab-node-0 ip route     # look inside a node
  sudo kubelab cluster create --name overlay --nodes 3 --network vxlan --subnet 10.240.1.0/24
  sudo kubelab cluster delete --name overlay`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runClusterCreate(ctx, s, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Name, "name", cluster.DefaultNetnsClusterName, "cluster name: the kubeconfig context, and part of every node, namespace and link name")
	f.IntVar(&o.Nodes, "nodes", 2, "number of nodes")
	f.StringVar(&o.Network, "network", "routes", "how pods reach other nodes: routes (host-gw) or vxlan (overlay)")
	f.StringVar(&o.Dir, "dir", "", "state directory (default ~/.kubelab/clusters/<name>)")
	f.StringVar(&o.Subnet, "subnet", cluster.DefaultNodeSubnet, "node network; clusters running at the same time need different ones")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig to merge the admin context into (default $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&o.KubeletBinary, "kubelet-binary", "", "kubelet to run on the nodes (default: kubelet next to this binary, else $PATH)")
	f.DurationVar(&o.ReadyTimeout, "timeout", 2*time.Minute, "how long to wait for the control plane, and then for the nodes, to be ready")
	f.BoolVar(&o.KeepOnFailure, "keep-on-failure", false, "leave a partly created cluster in place for debugging")
	return cmd
}

func runClusterCreate(ctx context.Context, s Streams, o *clusterCreateOptions) error {
	start := time.Now()
	o.Kubeconfig = pki.DefaultPath(o.kubeconfig)
	o.Progress = printStep(s.Out)
	dir := o.Dir
	if dir == "" {
		dir, _ = cluster.DefaultNetnsDir(o.Name)
	}
	fmt.Fprintf(s.Out, "Creating cluster %q: %d nodes, %s network (state in %s)\n", o.Name, o.Nodes, o.Network, dir)
	c, err := cluster.CreateNetnsCluster(ctx, o.NetnsOptions)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "Ready in %.1fs. It runs in the background until deleted.\n\nTry:\n", time.Since(start).Seconds())
	fmt.Fprintf(s.Out, "  kubectl --context %s get nodes -o wide\n", c.Name)
	fmt.Fprintf(s.Out, "  kubectl --kubeconfig %s get pods -A        # the standalone admin kubeconfig\n", c.AdminKubeconfig)
	fmt.Fprintf(s.Out, "  sudo ip netns exec %s ip addr        # inside %s\n", c.Nodes[0].Netns, c.Nodes[0].Name)
	fmt.Fprintf(s.Out, "  tail -f %s        # its kubelet's log\n", filepath.Join(c.Dir, "logs", c.Nodes[0].Name+".log"))
	fmt.Fprintf(s.Out, "\nDelete it with: sudo %s\n", deleteCommand(o.NetnsOptions, c.Dir))
	return nil
}

// deleteCommand is the delete line to suggest for a cluster.
func deleteCommand(o cluster.NetnsOptions, dir string) string {
	o.Dir = dir
	return o.DeleteCommand()
}

// printStep prints one finished step the way `kubelab up` does.
func printStep(w io.Writer) func(cluster.NetnsStep) {
	return func(st cluster.NetnsStep) {
		fmt.Fprintf(w, "  ✓ %-22s %s (%s)\n", st.Name, st.Detail, shortDuration(st.Took))
	}
}

func shortDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func newClusterDeleteCommand(s Streams) *cobra.Command {
	o := &clusterCreateOptions{}
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete a network-namespace cluster and everything it left on this machine",
		Long: `delete stops a cluster and removes everything it made, in this order:

  kubelets (SIGTERM, then SIGKILL), the control plane, every process left
  in the nodes' cgroups (kubelab/<name>/...) or network namespaces (pods,
  container monitors), the mounts under the state directory (pod
  namespaces, overlay root filesystems, volumes), the cgroups, the
  network namespaces, veths and bridge, the kubeconfig context, and the
  state directory.

It works from the state file that create keeps, or from the naming rules
when that is gone, and it is safe to run again.`,
		Example: `  sudo kubelab cluster delete
  sudo kubelab cluster delete --name overlay`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Kubeconfig = pki.DefaultPath(o.kubeconfig)
			o.Progress = printStep(s.Out)
			fmt.Fprintf(s.Out, "Deleting cluster %q\n", o.Name)
			removed, err := cluster.DeleteNetnsCluster(cmd.Context(), o.NetnsOptions)
			if err != nil {
				return err
			}
			if len(removed) == 0 {
				fmt.Fprintf(s.Out, "Nothing to delete: no cluster %q on this machine.\n", o.Name)
				return nil
			}
			fmt.Fprintln(s.Out, "Deleted.")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Name, "name", cluster.DefaultNetnsClusterName, "cluster name")
	f.StringVar(&o.Dir, "dir", "", "state directory (default ~/.kubelab/clusters/<name>)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig to remove the context from, if create did not record one (default $KUBECONFIG or ~/.kube/config)")
	return cmd
}

func newClusterListCommand(s Streams) *cobra.Command {
	var base string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List network-namespace clusters and whether their processes run",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			clusters, err := cluster.ListNetnsClusters(base)
			if err != nil {
				return err
			}
			if len(clusters) == 0 {
				fmt.Fprintln(s.Out, "No clusters. Create one with: sudo kubelab cluster create --nodes 2")
				return nil
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tNODES\tNETWORK\tSUBNET\tCONTROL PLANE\tKUBELETS RUNNING\tSTATE")
			for _, c := range clusters {
				cp := "stopped"
				if c.ControlPlaneRunning {
					cp = "running"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d/%d\t%s\n", c.Name, c.Nodes, c.Network, c.Subnet, cp, c.KubeletsRunning, c.Nodes, c.Dir)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&base, "dir", "", "directory holding the clusters' state directories (default ~/.kubelab/clusters)")
	return cmd
}
