package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubelab/kubelab/components/hollownode"
	"github.com/kubelab/kubelab/components/pki"
)

type hollowNodesOptions struct {
	hollownode.Options
	kubeconfig            string
	labels, taints, fails []string
	keep                  bool
}

// failure is one --fail: node goes silent after a delay.
type failure struct {
	node  string
	after time.Duration
}

// NewHollowNodesCommand builds `kubelab hollow-nodes`.
func NewHollowNodesCommand(s Streams) *cobra.Command {
	o := &hollowNodesOptions{}
	cmd := &cobra.Command{
		Use:   "hollow-nodes",
		Short: "Register fake nodes that act like kubelets, for scale and self-healing experiments",
		Long: `hollow-nodes registers N hollow nodes with a cluster and keeps them alive
until Ctrl-C.

A hollow node is a node without a machine: this process plays, for every
node, the parts of a kubelet the control plane can see. It registers the
Node (capacity, Ready condition, addresses), renews the node's Lease in
kube-node-lease every 10s (the heartbeat the node lifecycle controller
watches), and moves pods the scheduler binds to it to Running and Ready with
a fake pod IP. No container runs. Pods with restartPolicy Never or OnFailure
(Job pods) succeed after --job-duration; a deleted pod is confirmed gone
after a second. So you can test the scheduler and the controllers with
thousands of nodes on a laptop.

Kubernetes has two tools like this: kubemark, which runs real kubelets with
a fake container runtime (the project's scalability tests use it), and kwok
("Kubernetes WithOut Kubelet"), which, like this command, only writes API
objects. The nodes are labelled type=hollow, as kubemark's are.

--fail NAME@DURATION makes a node die after DURATION: it stops
renewing its lease and reporting status, and its pods are left as they are,
like a machine that lost power. The node lifecycle controller notices,
marks it NotReady and evicts its pods; their controllers recreate them on
the other nodes. That is Kubernetes' self-healing, to watch live.

Pod annotations steer the fake containers:
  hollow.kubelab.dev/exit-code: "N"     Job pods exit with N (Never: Failed;
                                        OnFailure: restarted)
  hollow.kubelab.dev/not-ready: "true"  Running, never Ready

Addresses are fake and never leave this process: node i is 10.241.0.0+i+1;
pod IPs come from the node's spec.podCIDR when the node IPAM controller set
one, else from 10.64.0.0/10, a /24 per node.

The nodes are deleted on exit unless you pass --keep.`,
		Example: `  # the self-healing experiment, in three terminals:
  kubelab hollow-nodes --count 3 --fail hollow-node-1@30s
  kubectl create deployment web --image=nginx --replicas=6
  kubectl get pods -o wide --watch      # pods on hollow-node-1 move away

  # a big cluster for the scheduler: 5000 nodes in 3 zones, some tainted
  kubelab hollow-nodes --count 5000 --zones 3 --qps 2000
  kubelab hollow-nodes --count 10 --name-prefix gpu- --label accelerator=gpu --taint gpu=true:NoSchedule`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runHollowNodes(ctx, s, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Count, "count", 3, "how many nodes")
	f.StringVar(&o.NamePrefix, "name-prefix", "hollow-node-", "node names are <prefix>0 .. <prefix>(count-1); use another prefix to run several sets side by side")
	f.StringVar(&o.CPU, "cpu", "4", "CPU capacity of each node")
	f.StringVar(&o.Memory, "memory", "16Gi", "memory capacity of each node")
	f.StringVar(&o.Pods, "pods", "110", "how many pods each node accepts")
	f.IntVar(&o.Zones, "zones", 0, "spread the nodes over zone-0 .. zone-(N-1) (label topology.kubernetes.io/zone)")
	f.StringArrayVar(&o.labels, "label", nil, "extra node label KEY=VALUE (repeatable)")
	f.StringArrayVar(&o.taints, "taint", nil, "register with taint KEY[=VALUE]:EFFECT (repeatable), effect NoSchedule, PreferNoSchedule or NoExecute")
	f.StringArrayVar(&o.fails, "fail", nil, "NAME[@DURATION]: that node stops its heartbeats after DURATION (default at once); repeatable")
	f.DurationVar(&o.StartupDelay, "startup-delay", 0, "how long a bound pod stays Pending before Running")
	f.DurationVar(&o.JobDuration, "job-duration", 2*time.Second, "how long Job pods (restartPolicy Never/OnFailure) run")
	f.DurationVar(&o.RenewInterval, "lease-renew-interval", 10*time.Second, "how often each node renews its lease (use 1s against a cluster started with 'kubelab up --lab', which declares nodes dead after 4s)")
	f.DurationVar(&o.StatusInterval, "node-status-report-frequency", time.Minute, "how often each node reports its status")
	f.Float32Var(&o.QPS, "qps", 1000, "API requests per second for all nodes together (5000 nodes renewing every 10s need 500)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "cluster to join (default $KUBECONFIG or ~/.kube/config)")
	f.BoolVar(&o.keep, "keep", false, "leave the nodes registered on exit (they go NotReady)")
	return cmd
}

func runHollowNodes(ctx context.Context, s Streams, o *hollowNodesOptions) error {
	var err error
	if o.Labels, err = parseLabels(o.labels); err != nil {
		return err
	}
	if o.Taints, err = parseTaints(o.taints); err != nil {
		return err
	}
	failures, err := parseFailures(o.fails, o.NamePrefix, o.Count)
	if err != nil {
		return err
	}
	path := pki.DefaultPath(o.kubeconfig)
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return fmt.Errorf("load kubeconfig %s: %w", path, err)
	}
	o.Cleanup = !o.keep
	o.Notify = func(node, msg string) { fmt.Fprintf(s.Out, "%s  %s %s\n", time.Now().Format(time.TimeOnly), node, msg) }
	var registered atomic.Int64
	o.Progress = func(n, _ int) { registered.Store(int64(n)) }

	fmt.Fprintf(s.Out, "registering %d hollow nodes with %s…\n", o.Count, cfg.Host)
	start := time.Now()
	progressDone := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-progressDone:
				return
			case <-tick.C:
				fmt.Fprintf(s.Out, "  %d/%d\n", registered.Load(), o.Count)
			}
		}
	}()
	set, err := hollownode.Start(ctx, cfg, o.Options)
	close(progressDone)
	if err != nil {
		return err
	}
	defer func() {
		if o.Cleanup {
			fmt.Fprintf(s.Out, "deleting %d hollow nodes…\n", o.Count)
		}
		set.Stop()
	}()
	fmt.Fprintf(s.Out, "%d/%d Ready in %.1fs. Try: %s get nodes -l type=hollow\n", o.Count, o.Count, time.Since(start).Seconds(), kubectl())
	for _, f := range failures {
		fmt.Fprintf(s.Out, "%s will fail in %s\n", f.node, f.after)
		timer := time.AfterFunc(f.after, func() {
			if err := set.Fail(f.node); err == nil {
				o.Notify(f.node, "failed: heartbeats stopped; the node lifecycle controller will mark it NotReady and evict its pods")
			}
		})
		defer timer.Stop()
	}
	fmt.Fprintln(s.Out, "Press Ctrl-C to stop.")
	<-ctx.Done()
	fmt.Fprintln(s.Out, "\nStopping…")
	return nil
}

// parseLabels reads KEY=VALUE flags, checking them as the API server would.
func parseLabels(flags []string) (map[string]string, error) {
	labels := map[string]string{}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("--label %q: want KEY=VALUE", f)
		}
		if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
			return nil, fmt.Errorf("--label %q: %s", f, strings.Join(errs, "; "))
		}
		labels[k] = v
	}
	return labels, nil
}

// parseTaints reads KEY[=VALUE]:EFFECT flags, kubectl taint's syntax.
func parseTaints(flags []string) ([]corev1.Taint, error) {
	var taints []corev1.Taint
	for _, f := range flags {
		kv, effect, ok := strings.Cut(f, ":")
		if !ok {
			return nil, fmt.Errorf("--taint %q: want KEY[=VALUE]:EFFECT", f)
		}
		t := corev1.Taint{Effect: corev1.TaintEffect(effect)}
		t.Key, t.Value, _ = strings.Cut(kv, "=")
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return nil, fmt.Errorf("--taint %q: effect %q is not NoSchedule, PreferNoSchedule or NoExecute", f, effect)
		}
		if errs := append(validation.IsQualifiedName(t.Key), validation.IsValidLabelValue(t.Value)...); len(errs) > 0 {
			return nil, fmt.Errorf("--taint %q: %s", f, strings.Join(errs, "; "))
		}
		taints = append(taints, t)
	}
	return taints, nil
}

// parseFailures reads NAME[@DURATION] flags; NAME must be one of the set's
// nodes (<prefix>0 .. <prefix>(count-1)).
func parseFailures(flags []string, prefix string, count int) ([]failure, error) {
	var out []failure
	for _, f := range flags {
		name, after, hasAfter := strings.Cut(f, "@")
		fl := failure{node: name}
		if hasAfter {
			d, err := time.ParseDuration(after)
			if err != nil || d < 0 {
				return nil, fmt.Errorf("--fail %q: want NAME@DURATION such as %s1@30s", f, prefix)
			}
			fl.after = d
		}
		i, err := strconv.Atoi(strings.TrimPrefix(name, prefix))
		if !strings.HasPrefix(name, prefix) || err != nil || i < 0 || i >= count || name != prefix+strconv.Itoa(i) {
			return nil, fmt.Errorf("--fail %q: %s is not one of the nodes %s0 .. %s%d", f, name, prefix, prefix, count-1)
		}
		out = append(out, fl)
	}
	return out, nil
}
