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
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubelab/kubelab/components/controllers/garbagecollector"
	"github.com/kubelab/kubelab/components/controllers/namespace"
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
}

// A starter builds one controller from the manager's clients and returns
// its Run function.
type starter func(c *clients) (run func(context.Context) error, err error)

// starters are the controllers this manager knows, by --controllers name.
var starters = map[string]starter{
	"namespace": func(c *clients) (func(context.Context) error, error) {
		cfg := c.config("namespace-controller")
		kube, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		ns, err := namespace.New(kube, dyn, c.informers.Core().V1().Namespaces())
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return ns.Run(ctx, 10) }, nil // upstream --concurrent-namespace-syncs=10
	},
	"garbagecollector": func(c *clients) (func(context.Context) error, error) {
		cfg := c.config("generic-garbage-collector")
		kube, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		md, err := metadata.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		gc := garbagecollector.New(md, kube.Discovery())
		return func(ctx context.Context) error { return gc.Run(ctx, 20) }, nil // upstream --concurrent-gc-syncs=20
	},
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
	// The seam for leader election: with several controller managers (one
	// per control-plane node), only the leader may run the loops, or they
	// would fight. It arrives with its own issue; until then we lead.
	return lead(ctx, func(ctx context.Context) error { return runControllers(ctx, cfg, names, o.Started) })
}

// lead runs fn while this process is the leader. Without leader election,
// that is right away and until ctx ends.
func lead(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }

func runControllers(ctx context.Context, cfg *rest.Config, names []string, started func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c, err := newClients(cfg)
	if err != nil {
		return err
	}

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
		if v, set := on[name]; (set && v) || (!set && star) {
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
