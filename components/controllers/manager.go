// Package controllers is kube-controller-manager: one process running many
// control loops, each in its own package (namespace/, garbagecollector/, …),
// each the sample-controller shape (informers ─▶ workqueue ─▶ sync).
//
//	Run(ctx, Options)
//	  ├─ clients from the kubeconfig (typed, metadata-only, dynamic, discovery)
//	  ├─ lead: (the seam for leader election; today we lead at once)
//	  ├─ start each enabled controller in a goroutine
//	  ├─ start the shared informers (the controllers registered theirs)
//	  └─ block until ctx ends, or stop everything if one controller fails
//
// Controllers never call each other: they meet only through the API
// server. The garbage collector deletes what the namespace controller's
// deletions leave ownerless, without either knowing about the other.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"

	"github.com/kubelab/kubelab/components/leader"
)

// Options configure the controller manager.
type Options struct {
	// Config is the API server connection. When nil, Kubeconfig is read;
	// when that is empty too, the in-cluster service account is used.
	Config     *rest.Config
	Kubeconfig string
	// Controllers selects controllers like upstream's --controllers: "*"
	// is every controller, "name" enables one, "-name" disables one.
	// Empty means "*".
	Controllers []string
	// Started, if set, is called once every enabled controller is running
	// (a /readyz handler can use it).
	Started func()
	// LeaderElection: with it enabled, the controllers run only while this
	// process holds the kube-system/kube-controller-manager Lease.
	LeaderElection leader.Config
	// Settings are the per-controller knobs (upstream's flags).
	Settings Settings
}

// Settings are the controllers' tunables, named after upstream's flags.
// Zero values mean upstream's defaults (see DefaultSettings).
type Settings struct {
	// NodeMonitorPeriod: how often the node lifecycle controller looks at
	// node heartbeats (--node-monitor-period, 5s).
	NodeMonitorPeriod time.Duration
	// NodeMonitorGracePeriod: how long a node may stay silent before it is
	// marked Ready=Unknown and tainted unreachable (--node-monitor-grace-period, 50s).
	NodeMonitorGracePeriod time.Duration
	// NodeStartupGracePeriod: the same for a node that never reported
	// (--node-startup-grace-period, 60s).
	NodeStartupGracePeriod time.Duration
	// NodeEvictionRate: nodes per second that may get the NoExecute taint
	// in a healthy zone (--node-eviction-rate, 0.1); SecondaryNodeEvictionRate
	// the same in a partially disrupted zone of a large cluster (0.01);
	// UnhealthyZoneThreshold the share of not-ready nodes that makes a zone
	// partially disrupted (0.55); LargeClusterSizeThreshold the node count
	// above which such a zone keeps evicting slowly instead of stopping (50).
	NodeEvictionRate, SecondaryNodeEvictionRate, UnhealthyZoneThreshold float32
	LargeClusterSizeThreshold                                           int
	// AllocateNodeCIDRs turns on node IPAM (--allocate-node-cidrs).
	AllocateNodeCIDRs bool
	// ClusterCIDRs: the pod network, one or two (dual-stack) CIDRs
	// (--cluster-cidr, comma separated).
	ClusterCIDRs []string
	// NodeCIDRMaskSizeIPv4 / IPv6: the size of each node's pod CIDR
	// (--node-cidr-mask-size-ipv4 24, --node-cidr-mask-size-ipv6 64).
	NodeCIDRMaskSizeIPv4, NodeCIDRMaskSizeIPv6 int
	// ServiceCIDRs are kept out of node CIDRs (--service-cluster-ip-range).
	ServiceCIDRs []string
	// TerminatedPodGCThreshold: terminated pods kept before podgc deletes
	// the oldest (--terminated-pod-gc-threshold, 12500).
	TerminatedPodGCThreshold int
	// HPASyncPeriod: how often autoscalers are evaluated
	// (--horizontal-pod-autoscaler-sync-period, 15s).
	HPASyncPeriod time.Duration
	// HPADownscaleStabilization: the window for scale-down recommendations
	// (--horizontal-pod-autoscaler-downscale-stabilization, 5m).
	HPADownscaleStabilization time.Duration
	// RootCAFile is the cluster CA certificate published into every
	// namespace as the kube-root-ca.crt ConfigMap (--root-ca-file).
	RootCAFile string
}

// DefaultSettings are upstream's defaults.
func DefaultSettings() Settings {
	return Settings{
		NodeMonitorPeriod: 5 * time.Second, NodeMonitorGracePeriod: 50 * time.Second, NodeStartupGracePeriod: 60 * time.Second,
		NodeEvictionRate: 0.1, SecondaryNodeEvictionRate: 0.01, UnhealthyZoneThreshold: 0.55, LargeClusterSizeThreshold: 50,
		NodeCIDRMaskSizeIPv4: 24, NodeCIDRMaskSizeIPv6: 64,
		TerminatedPodGCThreshold: 12500,
		HPASyncPeriod:            15 * time.Second, HPADownscaleStabilization: 5 * time.Minute,
	}
}

// withDefaults fills zero fields from DefaultSettings.
func (s Settings) withDefaults() Settings {
	d := DefaultSettings()
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setDur(&s.NodeMonitorPeriod, d.NodeMonitorPeriod)
	setDur(&s.NodeMonitorGracePeriod, d.NodeMonitorGracePeriod)
	setDur(&s.NodeStartupGracePeriod, d.NodeStartupGracePeriod)
	setDur(&s.HPASyncPeriod, d.HPASyncPeriod)
	setDur(&s.HPADownscaleStabilization, d.HPADownscaleStabilization)
	if s.NodeCIDRMaskSizeIPv4 == 0 {
		s.NodeCIDRMaskSizeIPv4 = d.NodeCIDRMaskSizeIPv4
	}
	if s.NodeCIDRMaskSizeIPv6 == 0 {
		s.NodeCIDRMaskSizeIPv6 = d.NodeCIDRMaskSizeIPv6
	}
	if s.TerminatedPodGCThreshold == 0 {
		s.TerminatedPodGCThreshold = d.TerminatedPodGCThreshold
	}
	return s
}

// A starter builds one controller from the manager's clients and returns
// its Run function.
type starter func(c *clients) (run func(context.Context) error, err error)

// starters are the controllers this manager knows, by --controllers name.
// Each controller's start_<name>.go registers itself; a controller is one
// package plus one small file here.
var starters = map[string]starter{}

// disabledByDefault are controllers "*" does not select (like upstream's
// bootstrapsigner): they run only when named.
var disabledByDefault = map[string]bool{}

func register(name string, s starter) {
	if _, dup := starters[name]; dup {
		panic("controller registered twice: " + name)
	}
	starters[name] = s
}

// KnownControllers lists the controller names, sorted.
func KnownControllers() []string {
	names := make([]string, 0, len(starters))
	for name := range starters {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Run runs the selected controllers until ctx ends. It returns an error if
// the clients cannot be built or a controller fails.
func Run(ctx context.Context, o Options) error {
	names, err := enabled(o.Controllers)
	if err != nil {
		return err
	}
	cfg, err := restConfig(o)
	if err != nil {
		return err
	}
	registerWorkqueueMetrics()
	// With several controller managers (one per control-plane node), only
	// the leader may run the loops, or they would fight over every object.
	le := o.LeaderElection
	if le.Name == "" {
		le.Namespace, le.Name = "kube-system", "kube-controller-manager"
	}
	return leader.Run(ctx, cfg, le, func(ctx context.Context) error {
		return runControllers(ctx, cfg, names, o.Settings.withDefaults(), o.Started)
	})
}

func runControllers(ctx context.Context, cfg *rest.Config, names []string, settings Settings, started func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c, err := newClients(cfg)
	if err != nil {
		return err
	}
	c.settings = settings
	defer c.stopRecorders()

	runs := map[string]func(context.Context) error{}
	for _, name := range names {
		run, err := starters[name](c)
		if err != nil {
			return fmt.Errorf("start controller %s: %w", name, err)
		}
		runs[name] = run
	}
	// Informers start after every controller registered its handlers, so
	// one list+watch per resource type serves all of them.
	c.informers.Start(ctx.Done())
	defer c.informers.Shutdown()

	var wg sync.WaitGroup
	errs := make(chan error, len(runs))
	for name, run := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil {
				errs <- fmt.Errorf("controller %s: %w", name, err)
				cancel() // one loop down: stop, and let a supervisor restart us
			}
		}()
	}
	slog.Info("controller manager running", "controllers", strings.Join(names, ","))
	if started != nil {
		started()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// enabled resolves a --controllers list into controller names.
func enabled(selection []string) ([]string, error) {
	if len(selection) == 0 {
		selection = []string{"*"}
	}
	on := map[string]bool{}
	star := false
	for _, s := range selection {
		name := strings.TrimPrefix(s, "-")
		if s == "*" {
			star = true
			continue
		}
		if _, ok := starters[name]; !ok {
			return nil, fmt.Errorf("unknown controller %q (known: %s)", name, strings.Join(KnownControllers(), ", "))
		}
		on[name] = !strings.HasPrefix(s, "-")
	}
	var out []string
	for _, name := range KnownControllers() {
		if v, set := on[name]; (set && v) || (!set && star && !disabledByDefault[name]) {
			out = append(out, name)
		}
	}
	return out, nil
}

func restConfig(o Options) (*rest.Config, error) {
	if o.Config != nil {
		return rest.CopyConfig(o.Config), nil
	}
	if o.Kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("load kubeconfig %s: %w", o.Kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("no --kubeconfig given and not running in a cluster: %w", err)
	}
	return cfg, nil
}

// clients hands each controller clients with its own user agent, so the
// API server's logs and managedFields say which loop wrote what.
type clients struct {
	cfg       *rest.Config
	informers informers.SharedInformerFactory
	settings  Settings

	mu           sync.Mutex
	broadcasters []record.EventBroadcaster
}

func newClients(cfg *rest.Config) (*clients, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 20, 30 // upstream's --kube-api-qps / --kube-api-burst
	}
	shared, err := kubernetes.NewForConfig(rest.AddUserAgent(rest.CopyConfig(cfg), "shared-informers"))
	if err != nil {
		return nil, fmt.Errorf("build client: %w", err)
	}
	// Namespaces resync every 5 minutes (upstream --namespace-sync-period):
	// a safety net should a terminating namespace ever drop out of the queue.
	factory := informers.NewSharedInformerFactoryWithOptions(shared, 12*time.Hour,
		informers.WithCustomResyncConfig(map[metav1.Object]time.Duration{&corev1.Namespace{}: 5 * time.Minute}))
	return &clients{cfg: cfg, informers: factory}, nil
}

func (c *clients) config(agent string) *rest.Config {
	return rest.AddUserAgent(rest.CopyConfig(c.cfg), "kube-controller-manager/"+agent)
}

// kube is a typed client for the named controller.
func (c *clients) kube(agent string) (kubernetes.Interface, error) {
	kube, err := kubernetes.NewForConfig(c.config(agent))
	if err != nil {
		return nil, fmt.Errorf("build client for %s: %w", agent, err)
	}
	return kube, nil
}

// recorder returns an EventRecorder that writes core/v1 Events as the
// named component ("replicaset-controller"), the source `kubectl describe`
// shows under Events. Repeated events are aggregated into counts by
// client-go's correlator, as upstream.
func (c *clients) recorder(kube kubernetes.Interface, component string) record.EventRecorder {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	c.mu.Lock()
	c.broadcasters = append(c.broadcasters, b)
	c.mu.Unlock()
	return b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
}

func (c *clients) stopRecorders() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.broadcasters {
		b.Shutdown()
	}
}
