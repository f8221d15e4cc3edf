package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/pki"
)

// NewDownCommand builds `kubelab down`.
func NewDownCommand(s Streams) *cobra.Command {
	var name, dir, kubeconfig string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove the cluster 'kubelab up' made: its pods, network, data and kubeconfig context",
		Long: `down removes a 'kubelab up' cluster for good.

Stopping 'kubelab up' (Ctrl-C) stops the control plane and the kubelet but,
like a real node whose kubelet restarts, leaves the pods' containers
running: the next 'kubelab up' adopts them. down is the other way out:

  1. stops a 'kubelab up' still running for this cluster
  2. stops every pod container and its monitor process, releases the pods'
     namespaces, mounts and cgroups, and removes the cni0 bridge
  3. removes the context from your kubeconfig (if it still points at this
     cluster) and the state directory: etcd's data, certificates, images

Needs root, like up. For clusters made by 'kubelab cluster create', use
'kubelab cluster delete'.`,
		Example: `  sudo kubelab down
  sudo kubelab down --name dev`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				home, err := os.UserHomeDir()
				if err != nil {
					return fmt.Errorf("no home directory: pass --dir: %w", err)
				}
				dir = filepath.Join(home, ".kubelab", name)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDown(ctx, s, cluster.DownOptions{Name: name, Dir: dir, Kubeconfig: pki.DefaultPath(kubeconfig)})
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "kubelab", "the cluster's name (as given to 'kubelab up --name')")
	f.StringVar(&dir, "dir", "", "its state directory (default ~/.kubelab/<name>)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig to remove the context from (default $KUBECONFIG or ~/.kube/config)")
	return cmd
}

func runDown(ctx context.Context, s Streams, o cluster.DownOptions) error {
	fmt.Fprintf(s.Out, "Removing cluster %q (state in %s)\n", o.Name, o.Dir)
	o.Progress = func(st cluster.NetnsStep) {
		fmt.Fprintf(s.Out, "  ✓ %-12s %s (%s)\n", st.Name, st.Detail, st.Took.Round(1e6))
	}
	removed, err := cluster.Down(ctx, o)
	if err != nil {
		return fmt.Errorf("removing cluster %q: %w (run 'kubelab down' again once the cause is fixed)", o.Name, err)
	}
	if len(removed) == 0 {
		fmt.Fprintln(s.Out, "Nothing to remove.")
		return nil
	}
	fmt.Fprintln(s.Out, "Done.")
	return nil
}
