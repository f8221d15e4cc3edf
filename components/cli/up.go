package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/controllers"
	"github.com/kubelab/kubelab/components/hollownode"
	"github.com/kubelab/kubelab/components/pki"
)

type upOptions struct {
	name, dir, bindAddress, kubeconfig string
	port, etcdPort                     int
	etcdServers                        []string
	reset                              bool
	debugAddress, schedulerConfig      string
	hollowNodes                        int
	lab, noKubelet                     bool
}

// NewUpCommand builds `kubelab up`.
func NewUpCommand(s Streams) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a single-machine cluster (etcd, API server, scheduler, controllers, a kubelet) in the foreground",
		Long: `up starts a whole cluster on this machine, in this process, minikube-style:

  1. a cluster CA, the API server's certificate and an admin client
     certificate (CN=admin, O=system:masters) in <dir>/pki
  2. etcd, embedded, with its data in <dir>/etcd (or --etcd-servers)
  3. kube-apiserver on https://127.0.0.1:6443
  4. kube-scheduler and kube-controller-manager (every controller), in this
     process; their /metrics and the scheduler's explain endpoint are served
     on --debug-address (http://127.0.0.1:10251/debug/scheduler/explain)
  5. a kubelet for this machine (needs root): the node is this host, pods run
     in their own network namespaces on the cni0 bridge (10.200.0.0/24), with
     runc's libcontainer; the kit's images localhost/kubelab/busybox:v1 and
     localhost/kubelab/testserver:v1 are built locally, so nothing is pulled
  6. the admin credentials merged into your kubeconfig as context <name>

--hollow-nodes N adds N hollow nodes: Node objects that a small in-process
agent heartbeats and whose pods it reports Running without starting
containers (like Kubernetes' kubemark): cheap nodes for scheduling and
rollout experiments. --no-kubelet runs the control plane alone.

--lab shortens the self-healing timings (node declared unreachable after 4s
of silence, its pods evicted 2s later) so experiments take seconds instead
of the production five minutes.

It runs until Ctrl-C. The data stays in <dir>, and the pods keep running,
like on a real node whose kubelet restarts: run up again to resume (the
kubelet adopts its pods). 'kubelab down' removes everything; --reset does
that first, then starts from scratch.`,
		Example: `  sudo kubelab up
  kubectl get nodes -o wide                          # in another terminal
  kubectl run hello --image=localhost/kubelab/busybox:v1 -- sh -c 'echo hello; sleep 3600'
  kubectl logs hello
  kubectl exec -it hello -- sh
  kubectl create deployment web --image=localhost/kubelab/testserver:v1 --replicas=3
  curl 'http://127.0.0.1:10251/debug/scheduler/explain?pod=default/<pod>'
  etcdctl get --prefix --keys-only /registry/pods
  sudo kubelab down                                  # remove it all
  kubelab up --no-kubelet --hollow-nodes 100         # control plane + fake nodes, no root needed
  kubelab up --port 7443 --name dev --debug-address 127.0.0.1:10261   # a second cluster`,
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
	f.StringVar(&o.debugAddress, "debug-address", "127.0.0.1:10251", "where to serve /metrics, /healthz and the scheduler's /debug/scheduler/explain (empty: nowhere)")
	f.StringVar(&o.schedulerConfig, "scheduler-config", "", "KubeSchedulerConfiguration file for the scheduler (e.g. MostAllocated bin packing)")
	f.IntVar(&o.hollowNodes, "hollow-nodes", 0, "also run this many hollow nodes (fake kubelets, see 'kubelab hollow-nodes --help')")
	f.BoolVar(&o.noKubelet, "no-kubelet", false, "run no kubelet for this machine (control plane only; nodes come from 'kubelab cluster create' or --hollow-nodes)")
	f.BoolVar(&o.lab, "lab", false, "lab timings: nodes unreachable after 4s of silence, pods evicted 2s later")
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
		if os.Geteuid() == 0 {
			// Pods of the old cluster may still run, with mounts under dir:
			// take them down properly before deleting the data.
			if _, err := cluster.Down(ctx, cluster.DownOptions{Name: o.name, Dir: o.dir}); err != nil {
				return fmt.Errorf("reset: %w", err)
			}
		} else if err := os.RemoveAll(o.dir); err != nil {
			return fmt.Errorf("reset %s: %w", o.dir, err)
		}
	}
	kubeconfig := pki.DefaultPath(o.kubeconfig)
	start := time.Now()
	fmt.Fprintf(s.Out, "Starting cluster %q (state in %s)\n", o.name, o.dir)
	copts := cluster.ControlPlaneOptions{
		Name: o.name, Dir: o.dir, BindAddress: o.bindAddress, Port: o.port, EtcdPort: o.etcdPort,
		EtcdServers: o.etcdServers, Kubeconfig: kubeconfig, Controllers: []string{"*"},
		Scheduler: true, SchedulerConfigFile: o.schedulerConfig, DebugAddress: o.debugAddress,
		ControllerSettings: controllers.Settings{AllocateNodeCIDRs: true, ClusterCIDRs: []string{"10.200.0.0/16"}},
	}
	if o.lab {
		cluster.LabTimings(&copts)
	}
	cp, err := cluster.StartControlPlane(ctx, copts)
	if err != nil {
		return err
	}
	defer cp.Stop()
	if err := cluster.WriteUpPID(o.dir); err != nil {
		return fmt.Errorf("record this process for 'kubelab down': %w", err)
	}
	defer cluster.RemoveUpPID(o.dir)
	nodes := "none (add --hollow-nodes N, or run 'kubelab hollow-nodes')"
	var nodeNames []string
	if !o.noKubelet {
		if os.Geteuid() != 0 {
			return fmt.Errorf("the kubelet needs root (namespaces, mounts, cgroups): run 'sudo kubelab up', or 'kubelab up --no-kubelet' for a control plane without a node")
		}
		fmt.Fprintf(s.Out, "  … kubelet         starting (pulls nothing: the kit's images are built locally)\n")
		k, err := cp.StartKubelet(ctx, cluster.LocalKubeletOptions{Lab: o.lab})
		if err != nil {
			return fmt.Errorf("start the kubelet: %w", err)
		}
		nodeNames = append(nodeNames, k.NodeName())
	}
	if o.hollowNodes > 0 {
		set, err := startHollowNodes(ctx, cp.AdminKubeconfig, o.hollowNodes, o.lab)
		if err != nil {
			return err
		}
		defer set.Stop()
		nodeNames = append(nodeNames, fmt.Sprintf("%d hollow (%s…)", o.hollowNodes, set.Names()[0]))
	}
	if len(nodeNames) > 0 {
		nodes = strings.Join(nodeNames, ", ")
	}
	debug := "not served"
	if cp.DebugURL != "" {
		debug = cp.DebugURL + "/metrics, " + cp.DebugURL + "/debug/scheduler/explain"
	}
	etcd := cp.EtcdURL + " (embedded, data in " + filepath.Join(o.dir, "etcd") + ")"
	if cp.EtcdURL == "" {
		etcd = fmt.Sprint(o.etcdServers)
	}
	fmt.Fprintf(s.Out, `  ✓ etcd            %s
  ✓ kube-apiserver  %s
  ✓ scheduler       in-process
  ✓ controllers     %s (in-process)
  ✓ debug           %s
  ✓ nodes           %s
  ✓ kubeconfig      context %q merged into %s
                    (standalone copy: %s)
Ready in %.1fs.

Try, in another terminal:
  %s --kubeconfig %s get namespaces
  %s --kubeconfig %s api-resources
  ETCDCTL_API=3 etcdctl --endpoints=%s get --prefix --keys-only /registry/

Press Ctrl-C to stop: the data is kept, and pods keep running ("kubelab up"
resumes and adopts them); "sudo kubelab down" removes everything.
`, etcd, cp.URL, strings.Join(controllers.KnownControllers(), ", "), debug, nodes, o.name, kubeconfig, cp.AdminKubeconfig, time.Since(start).Seconds(),
		kubectl(), kubeconfig, kubectl(), kubeconfig, endpointOr(cp.EtcdURL, o.etcdServers))

	select {
	case <-ctx.Done():
		fmt.Fprintln(s.Out, "\nStopping…")
		return nil
	case err := <-cp.Done():
		return fmt.Errorf("kube-apiserver stopped: %w", err)
	case err := <-cp.ControllersDone():
		return fmt.Errorf("kube-controller-manager stopped: %w", err)
	case err := <-cp.KubeletDone():
		return fmt.Errorf("kubelet stopped: %w", err)
	case err := <-cp.SchedulerDone():
		return fmt.Errorf("kube-scheduler stopped: %w", err)
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

// startHollowNodes registers n hollow nodes for `up --hollow-nodes`.
// With lab timings, nodes are declared dead after 4 s of silence, so they
// must renew their leases every second (a real kubelet: every 10 s, for a
// 50 s grace period).
func startHollowNodes(ctx context.Context, kubeconfig string, n int, lab bool) (*hollownode.Set, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", kubeconfig, err)
	}
	o := hollownode.Options{Count: n, Cleanup: true}
	if lab {
		o.RenewInterval, o.LeaseDuration = time.Second, 4
	}
	set, err := hollownode.Start(ctx, cfg, o)
	if err != nil {
		return nil, fmt.Errorf("start %d hollow nodes: %w", n, err)
	}
	return set, nil
}
