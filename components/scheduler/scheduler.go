package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"

	"github.com/kubelab/kubelab/components/leader"
	"github.com/kubelab/kubelab/components/scheduler/plugins"
)

// Options configure a scheduler.
type Options struct {
	// Config is the API server connection; if nil, Kubeconfig is read.
	Config     *rest.Config
	Kubeconfig string
	// ConfigFile is a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1), optional.
	ConfigFile string
	// LeaderElection: zero value = no election.
	LeaderElection leader.Config
	// Started is called once caches synced and scheduling runs.
	Started func()
	// Parallelism is the number of filter/score workers (default 16, like upstream).
	Parallelism int
}

// Upstream's timings.
const (
	initialBackoff   = time.Second
	maxBackoff       = 10 * time.Second
	maxUnschedulable = 60 * time.Second
	// assumedTTL: how long a bound pod may stay unconfirmed by the watch.
	assumedTTL = 30 * time.Second
	// explainSize: decisions kept for /debug/scheduler/explain.
	explainSize = 1000
)

// Scheduler is a running kube-scheduler.
type Scheduler struct {
	opts     Options
	cfg      *rest.Config
	kube     kubernetes.Interface
	profiles map[string]*Profile
	queue    *Queue
	cache    *Cache
	snapshot *Snapshot
	algo     Algorithm
	explain  *explainLog

	factory     informers.SharedInformerFactory
	podLister   corelisters.PodLister
	broadcaster record.EventBroadcaster
	// recorders per profile: events come "From" the schedulerName.
	recorders map[string]record.EventRecorder
	// background counts binding and status-writing goroutines.
	background sync.WaitGroup
}

// Run runs a scheduler until ctx ends (or the lease is lost).
func Run(ctx context.Context, o Options) error {
	s, err := New(o)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// New builds a scheduler: clients, profiles from the config file,
// informers. Nothing runs until Run.
func New(o Options) (*Scheduler, error) {
	profiles, qps, burst, file, err := loadProfiles(o.ConfigFile)
	if err != nil {
		return nil, err
	}
	fromConfigFile(&o, file)
	cfg := o.Config
	if cfg == nil {
		if cfg, err = clientcmd.BuildConfigFromFlags("", o.Kubeconfig); err != nil {
			return nil, fmt.Errorf("load kubeconfig %q: %w", o.Kubeconfig, err)
		}
	}
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 { // upstream's clientConnection defaults, unless the caller chose
		cfg.QPS, cfg.Burst = qps, burst
	}
	kube, err := kubernetes.NewForConfig(rest.AddUserAgent(cfg, "kube-scheduler"))
	if err != nil {
		return nil, fmt.Errorf("scheduler client: %w", err)
	}
	s := &Scheduler{
		opts: o, cfg: cfg, kube: kube, profiles: profiles,
		queue:     NewQueue(initialBackoff, maxBackoff, maxUnschedulable),
		cache:     NewCache(assumedTTL),
		snapshot:  NewSnapshot(),
		algo:      Algorithm{Parallelism: o.Parallelism},
		explain:   newExplainLog(explainSize),
		factory:   informers.NewSharedInformerFactory(kube, 0),
		recorders: map[string]record.EventRecorder{},
	}
	s.broadcaster = record.NewBroadcaster()
	for name := range profiles {
		s.recorders[name] = s.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: name})
	}
	if err := s.addHandlers(); err != nil {
		return nil, err
	}
	return s, nil
}

// Run takes the lease (if enabled), then schedules until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	return leader.Run(ctx, s.cfg, s.opts.LeaderElection, s.run)
}

func (s *Scheduler) run(ctx context.Context) error {
	s.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: s.kube.CoreV1().Events("")})
	defer s.broadcaster.Shutdown()
	s.factory.Start(ctx.Done())
	defer s.factory.Shutdown()
	for typ, ok := range s.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("scheduler: %v cache did not sync", typ)
		}
	}
	nodes, pods := s.cache.Counts()
	slog.Info("scheduler started", "nodes", nodes, "pods", pods, "profiles", len(s.profiles))
	go s.housekeeping(ctx)
	go func() { <-ctx.Done(); s.queue.Close() }()
	if s.opts.Started != nil {
		s.opts.Started()
	}
	for {
		qp, cycle, ok := s.queue.Pop()
		if !ok {
			break
		}
		s.scheduleOne(ctx, qp, cycle)
	}
	s.background.Wait()
	return nil
}

// housekeeping moves pods out of backoff, expires assumed pods and
// reports queue lengths, once a second.
func (s *Scheduler) housekeeping(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.queue.Flush()
			s.cache.CleanupExpired()
			a, b, u := s.queue.Lengths()
			pendingPods.WithLabelValues("active").Set(float64(a))
			pendingPods.WithLabelValues("backoff").Set(float64(b))
			pendingPods.WithLabelValues("unschedulable").Set(float64(u))
		}
	}
}

// Which plugins' verdicts a cluster event can change.
var (
	assignedPodAdded   = sets.New(plugins.InterPodAffinityName, plugins.PodTopologySpreadName)
	assignedPodDeleted = sets.New(plugins.NodeResourcesFitName, plugins.NodePortsName, plugins.InterPodAffinityName, plugins.PodTopologySpreadName)
)

// addHandlers wires the informers: unassigned pods of our profiles go to
// the queue; assigned pods and nodes go to the cache, and may wake
// unschedulable pods.
func (s *Scheduler) addHandlers() error {
	podInformer := s.factory.Core().V1().Pods().Informer()
	s.podLister = s.factory.Core().V1().Pods().Lister()
	// The cache does not need managed fields; dropping them saves memory
	// at 20000 pods.
	if err := podInformer.SetTransform(func(obj any) (any, error) {
		if p, ok := obj.(*corev1.Pod); ok {
			p.ManagedFields = nil
		}
		return obj, nil
	}); err != nil {
		return fmt.Errorf("pod informer transform: %w", err)
	}
	_, err := podInformer.AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			p, ok := podOf(obj)
			return ok && p.Spec.NodeName != "" && !terminated(p)
		},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) {
				p, _ := podOf(obj)
				s.cache.AddPod(p)
				s.queue.MoveAll(assignedPodAdded)
			},
			UpdateFunc: func(_, obj any) {
				p, _ := podOf(obj)
				s.cache.UpdatePod(p)
				s.queue.MoveAll(assignedPodAdded)
			},
			DeleteFunc: func(obj any) {
				if p, ok := podOf(obj); ok {
					s.cache.RemovePod(p)
					s.queue.MoveAll(assignedPodDeleted)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("pod informer handler: %w", err)
	}
	_, err = podInformer.AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			p, ok := podOf(obj)
			return ok && p.Spec.NodeName == "" && !terminated(p) && s.profiles[p.Spec.SchedulerName] != nil
		},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) {
				p, _ := podOf(obj)
				s.queue.Add(p)
			},
			UpdateFunc: func(_, obj any) {
				p, _ := podOf(obj)
				if s.cache.IsAssumed(p) {
					return // our own status write, or a bind still on its way
				}
				s.queue.Update(p)
			},
			DeleteFunc: func(obj any) {
				if p, ok := podOf(obj); ok {
					s.queue.Delete(p)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("pod informer handler: %w", err)
	}
	_, err = s.factory.Core().V1().Nodes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if n, ok := obj.(*corev1.Node); ok {
				s.cache.AddNode(n)
				s.queue.MoveAll(nil)
			}
		},
		UpdateFunc: func(oldObj, obj any) {
			old, _ := oldObj.(*corev1.Node)
			n, ok := obj.(*corev1.Node)
			if !ok {
				return
			}
			s.cache.AddNode(n)
			if old == nil || nodeSchedulingChanged(old, n) {
				s.queue.MoveAll(nil)
			}
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if n, ok := obj.(*corev1.Node); ok {
				s.cache.RemoveNode(n.Name)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("node informer handler: %w", err)
	}
	return nil
}

func podOf(obj any) (*corev1.Pod, bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		utilruntime.HandleError(fmt.Errorf("scheduler: unexpected object %T in pod informer", obj))
	}
	return p, ok
}

func terminated(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// nodeSchedulingChanged ignores heartbeats: only what a filter reads
// counts, or every kubelet status update would wake every waiting pod.
func nodeSchedulingChanged(old, n *corev1.Node) bool {
	return old.Spec.Unschedulable != n.Spec.Unschedulable ||
		!equality.Semantic.DeepEqual(old.Labels, n.Labels) ||
		!equality.Semantic.DeepEqual(old.Spec.Taints, n.Spec.Taints) ||
		!equality.Semantic.DeepEqual(old.Status.Allocatable, n.Status.Allocatable) ||
		readyStatus(old) != readyStatus(n)
}

func readyStatus(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}
