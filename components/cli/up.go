package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/pki"
)

type upOptions struct {
	name, dir, bindAddress, kubeconfig string
	port, etcdPort                     int
	etcdServers                        []string
	reset                              bool
}

// NewUpCommand builds `kubelab up`.
func NewUpCommand(s Streams) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a single-machine cluster (embedded etcd + kube-apiserver) in the foreground",
		Long: `up starts a control plane in this process, minikube-style:

  1. a cluster CA, the API server's certificate and an admin client
     certificate (CN=admin, O=system:masters) in <dir>/pki
  2. etcd, embedded, with its data in <dir>/etcd (or --etcd-servers)
  3. kube-apiserver on https://127.0.0.1:6443
  4. the admin credentials merged into your kubeconfig as context <name>

It also runs the namespace controller (deleting a namespace empties it) and
the garbage collector (deleting an owner deletes or orphans its dependents).

It runs until Ctrl-C. The data stays in <dir>: run up again to resume, or
pass --reset to start from scratch. The scheduler, the other controllers
and workers (kubelet) join in later kubelab releases; today this is the API
server you can explore with kubectl and etcdctl.`,
		Example: `  kubelab up
  kubectl get namespaces                 # in another terminal
  etcdctl get --prefix --keys-only /registry/namespaces
  kubelab up --port 7443 --name dev      # a second cluster beside the first`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runUp(ctx, s, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "kubelab", "cluster name, also the kubeconfig context name")
	f.StringVar(&o.dir, "dir", "", "state directory (default ~/.kubelab/<name>)")
	f.StringVar(&o.bindAddress, "bind-address", "127.0.0.1", "address the API server listens on")
	f.IntVar(&o.port, "port", 6443, "API server port")
	f.IntVar(&o.etcdPort, "etcd-port", 2379, "embedded etcd client port (a free one is used when taken)")
	f.StringSliceVar(&o.etcdServers, "etcd-servers", nil, "use this external etcd instead of the embedded one")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig to merge the admin context into (default $KUBECONFIG or ~/.kube/config)")
	f.BoolVar(&o.reset, "reset", false, "delete the state directory first (all cluster data is lost)")
	return cmd
}

func runUp(ctx context.Context, s Streams, o *upOptions) error {
	if o.dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("no home directory for the state: pass --dir: %w", err)
		}
		o.dir = filepath.Join(home, ".kubelab", o.name)
	}
	if o.reset {
		if err := os.RemoveAll(o.dir); err != nil {
			return fmt.Errorf("reset %s: %w", o.dir, err)
		}
	}
	kubeconfig := pki.DefaultPath(o.kubeconfig)
	start := time.Now()
	fmt.Fprintf(s.Out, "Starting cluster %q (state in %s)\n", o.name, o.dir)
	cp, err := cluster.StartControlPlane(ctx, cluster.ControlPlaneOptions{
		Name: o.name, Dir: o.dir, BindAddress: o.bindAddress, Port: o.port, EtcdPort: o.etcdPort,
		EtcdServers: o.etcdServers, Kubeconfig: kubeconfig, Controllers: []string{"*"},
	})
	if err != nil {
		return err
	}
	defer cp.Stop()
	etcd := cp.EtcdURL + " (embedded, data in " + filepath.Join(o.dir, "etcd") + ")"
	if cp.EtcdURL == "" {
		etcd = fmt.Sprint(o.etcdServers)
	}
	fmt.Fprintf(s.Out, `  ✓ etcd            %s
  ✓ kube-apiserver  %s
  ✓ controllers     namespace, garbagecollector (in-process)
  ✓ kubeconfig      context %q merged into %s
                    (standalone copy: %s)
Ready in %.1fs.

Try, in another terminal:
  %s --kubeconfig %s get namespaces
  %s --kubeconfig %s api-resources
  ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix --keys-only /registry/

Press Ctrl-C to stop (data is kept; "kubelab up" resumes it).
`, etcd, cp.URL, o.name, kubeconfig, cp.AdminKubeconfig, time.Since(start).Seconds(),
		kubectl(), kubeconfig, kubectl(), kubeconfig, endpointOr(cp.EtcdURL, o.etcdServers))

	select {
	case <-ctx.Done():
		fmt.Fprintln(s.Out, "\nStopping…")
		return nil
	case err := <-cp.Done():
		return fmt.Errorf("kube-apiserver stopped: %w", err)
	case err := <-cp.ControllersDone():
		return fmt.Errorf("kube-controller-manager stopped: %w", err)
	}
}

// kubectl names the kubectl to suggest: the one on PATH, else the one the
// quickstart built beside this binary (bin/kubectl).
func kubectl() string {
	if _, err := exec.LookPath("kubectl"); err == nil {
		return "kubectl"
	}
	if self, err := os.Executable(); err == nil {
		beside := filepath.Join(filepath.Dir(self), "kubectl")
		if _, err := os.Stat(beside); err == nil {
			return beside
		}
	}
	return "kubectl"
}

func endpointOr(url string, servers []string) string {
	if url != "" {
		return url
	}
	if len(servers) > 0 {
		return servers[0]
	}
	return ""
}
