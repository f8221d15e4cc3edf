// Package hollownode runs hollow nodes: fake worker nodes that register with a
// real kube-apiserver and behave like a kubelet from the API's point of view,
// without running any container. Kubernetes has two such tools: kubemark (a
// real kubelet with a fake container runtime, used by the scalability tests)
// and kwok ("Kubernetes WithOut Kubelet", which only writes API objects, as
// this package does).
//
// A Set of hollow nodes plays, for each node, the three parts of a kubelet the
// control plane can see:
//
//	                           kube-apiserver
//	  ▲ create    ▲ renew    ▲ patch            ▲ pod status  ▲ delete pod
//	  │ Node      │ Lease    │ node status      │ Running,    │ grace 0, once
//	  │           │ each 10s │ each 1m          │ Succeeded   │ "killed"
//	┌─┴───────────┴──────────┴────────┐  ┌──────┴─────────────┴──────┐
//	│ heartbeat queue: one delaying   │  │ one pod informer for the  │
//	│ workqueue of (node, register |  │  │ whole set, fieldSelector  │
//	│ lease | status) items, jittered │  │ spec.nodeName!= → queue → │
//	│ and served by a pool of workers │  │ workers → syncPod         │
//	└─────────────────────────────────┘  └───────────────────────────┘
//
// There is no goroutine and no watch per node, so 5000 nodes fit in one
// process: the cost is the writes (5000 nodes renewing every 10s is 500
// lease updates a second, like a real cluster of that size), throttled by
// the client's QPS.
//
// Fail(name) makes a node go silent like a dead machine: no lease renewals, no
// status, and its pods are left as they are (deleted ones stay Terminating:
// a dead kubelet never confirms a kill). The node lifecycle controller then
// notices the stale lease, marks the node NotReady and evicts its pods — the
// self-healing experiment.
//
// Addresses never leave the process; they only have to look plausible and be
// unique within a set:
//   - node InternalIP: 10.241.0.0/16, node i gets 10.241.0.0 + i + 1
//     (hollow-node-0 is 10.241.0.1, hollow-node-255 is 10.241.1.0);
//   - pod IPs: from node.spec.podCIDRs when the node IPAM controller set them
//     (offsets .2 upwards, .1 being the bridge, like host-local IPAM); else
//     from a fake /24 per node in 10.64.0.0/10: node i gets
//     10.(64+i/256).(i%256).0/24. Two sets running side by side reuse the
//     same fake ranges; give nodes podCIDRs if addresses must be unique.
//
// Pod annotations change what the fake containers do:
//   - hollow.kubelab.dev/exit-code: "N" — a pod that runs to completion
//     (restartPolicy Never or OnFailure) exits with N after JobDuration:
//     Never → phase Failed; OnFailure → the containers restart (restartCount
//     grows), as a kubelet does; useful for Job backoffLimit tests.
//   - hollow.kubelab.dev/not-ready: "true" — the pod runs but is never Ready.
package hollownode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Annotations a pod can carry to steer its fake containers.
const (
	AnnotationExitCode = "hollow.kubelab.dev/exit-code"
	AnnotationNotReady = "hollow.kubelab.dev/not-ready"
)

// maxNodes is how many nodes the fake pod range 10.64.0.0/10 has a /24 for.
const maxNodes = 1 << 14

// Options describe a set of hollow nodes. Zero values take the defaults.
type Options struct {
	Count      int    // how many nodes: <NamePrefix>0 .. <NamePrefix>(Count-1)
	NamePrefix string // default "hollow-node-"

	CPU, Memory, Pods string // capacity (= allocatable); default "4", "16Gi", "110"
	EphemeralStorage  string // default "100Gi"

	Zones  int               // label topology.kubernetes.io/zone=zone-<i mod Zones>; 0: no zone label
	Labels map[string]string // extra labels on every node
	Taints []corev1.Taint    // registered with these taints (kubelet --register-with-taints)

	LeaseDuration  int32         // seconds, default 40 (kubelet's nodeLeaseDurationSeconds)
	RenewInterval  time.Duration // lease renewal, default 10s (kubelet: 25% of the lease duration)
	StatusInterval time.Duration // full node status report, default 1m
	StartupDelay   time.Duration // a bound pod stays Pending this long, default 0
	JobDuration    time.Duration // pods with restartPolicy Never/OnFailure finish after this, default 2s
	KillDelay      time.Duration // a deleted pod goes after min(its grace period, this), default 1s

	QPS     float32 // client rate limit, default 1000 (burst the same)
	Workers int     // heartbeat workers and pod workers (each), default 32

	Cleanup bool // delete the nodes and their leases on Stop

	// Notify, when set, hears about significant events (a node re-registered
	// after someone deleted it). It must not block.
	Notify func(node, message string)
	// Progress, when set, is called as initial registrations complete. It
	// may be called from several goroutines and must not block.
	Progress func(registered, total int)
}

func (o *Options) defaults() error {
	if o.Count <= 0 || o.Count > maxNodes {
		return fmt.Errorf("hollow node count %d: must be between 1 and %d", o.Count, maxNodes)
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.NamePrefix, "hollow-node-")
	def(&o.CPU, "4")
	def(&o.Memory, "16Gi")
	def(&o.Pods, "110")
	def(&o.EphemeralStorage, "100Gi")
	for name, q := range map[string]string{"cpu": o.CPU, "memory": o.Memory, "pods": o.Pods, "ephemeral-storage": o.EphemeralStorage} {
		if _, err := resource.ParseQuantity(q); err != nil {
			return fmt.Errorf("hollow node %s capacity %q: %w", name, q, err)
		}
	}
	durations := []struct {
		d *time.Duration
		v time.Duration
	}{{&o.RenewInterval, 10 * time.Second}, {&o.StatusInterval, time.Minute}, {&o.JobDuration, 2 * time.Second}, {&o.KillDelay, time.Second}}
	for _, x := range durations {
		if *x.d <= 0 {
			*x.d = x.v
		}
	}
	if o.LeaseDuration <= 0 {
		o.LeaseDuration = 40
	}
	if o.QPS <= 0 {
		o.QPS = 1000
	}
	if o.Workers <= 0 {
		o.Workers = 32
	}
	return nil
}

// Set is a running set of hollow nodes.
type Set struct {
	o     Options
	kube  kubernetes.Interface
	names []string
	// nodes is fixed at Start: lookups need no lock.
	nodes map[string]*node

	nodeLister corelisters.NodeLister
	podLister  corelisters.PodLister
	podIndex   cache.Indexer

	// tasks holds heartbeat work items; pods holds pod keys. Both delay
	// (AddAfter) and back off on errors.
	tasks workqueue.TypedRateLimitingInterface[task]
	pods  workqueue.TypedRateLimitingInterface[string]
	ips   *ipam
	now   func() time.Time

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// node is the in-memory state of one hollow node.
type node struct {
	name  string
	index int

	// mu is held for reading by every write this node makes to the API and
	// for writing by Fail: once Fail returns, the node makes no more writes.
	mu     sync.RWMutex
	failed bool
	// byAnnotation: failed through FailAnnotation, so its removal revives.
	byAnnotation bool

	// state guards what the heartbeat workers cache about the node.
	state sync.Mutex
	uid   string                // UID of the Node object we registered
	lease *coordinationv1.Lease // last Lease we wrote, reused for the next renewal
}

// Start registers the nodes (creating them, or adopting existing nodes of
// the same name), creates their Leases, and starts heartbeats and the pod
// loop. It returns once every node is registered and Ready. The set runs
// until ctx is done or Stop is called.
func Start(ctx context.Context, cfg *rest.Config, o Options) (*Set, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = o.QPS, int(o.QPS)
	cfg = rest.AddUserAgent(cfg, "kubelab-hollow-node")
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("hollow node client for %s: %w", cfg.Host, err)
	}
	return start(ctx, kube, o)
}

func start(ctx context.Context, kube kubernetes.Interface, o Options) (*Set, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &Set{
		o: o, kube: kube, nodes: make(map[string]*node, o.Count), ips: newIPAM(), now: time.Now, cancel: cancel,
		// Like the kubelet's lease controller: retry soon, never slower than 7s.
		tasks: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[task](200*time.Millisecond, 7*time.Second),
			workqueue.TypedRateLimitingQueueConfig[task]{Name: "hollow-node-heartbeat"}),
		pods: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 10*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "hollow-node-pods"}),
	}
	for i := range o.Count {
		name := fmt.Sprintf("%s%d", o.NamePrefix, i)
		s.names = append(s.names, name)
		s.nodes[name] = &node{name: name, index: i}
	}
	if err := s.startInformers(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.registerAll(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	s.startWorkers(ctx)
	return s, nil
}

// registerAll registers every node and creates its lease, Workers at a time,
// then schedules each node's heartbeats at a random point of the interval so
// that thousands of nodes do not all write in the same second.
func (s *Set) registerAll(ctx context.Context) error {
	var (
		done     atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
		slots    = make(chan struct{}, s.o.Workers)
	)
	// The first error stops the others: a node the API server refuses
	// (bad label, no permission) means it will refuse them all.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, name := range s.names {
		n := s.nodes[name]
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			err := s.register(ctx, n)
			if err == nil {
				err = s.renewLease(ctx, n)
			}
			if err != nil {
				errOnce.Do(func() { firstErr = err; cancel() })
				return
			}
			if s.o.Progress != nil {
				s.o.Progress(int(done.Add(1)), len(s.names))
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("registering %d hollow nodes: %w", len(s.names), err)
	}
	for _, name := range s.names {
		s.tasks.AddAfter(task{name, taskLease}, jitter(s.o.RenewInterval, 1))
		s.tasks.AddAfter(task{name, taskStatus}, jitter(s.o.StatusInterval, 1))
	}
	return nil
}

// Names lists the set's node names, in index order.
func (s *Set) Names() []string { return slices.Clone(s.names) }

// Fail makes a node silent, like a machine that died: no more lease
// renewals or status reports, and its pods are left as they are. When Fail
// returns, the node has made its last write.
func (s *Set) Fail(name string) error {
	n, ok := s.nodes[name]
	if !ok {
		return fmt.Errorf("fail %q: not a node of this hollow node set", name)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failed = true
	slog.Debug("hollow node failed: heartbeats stopped", "node", name)
	return nil
}

// Revive brings a failed node back: it re-registers if the node was deleted
// meanwhile, renews its lease and reports Ready at once, and looks at its
// pods again.
func (s *Set) Revive(name string) error {
	n, ok := s.nodes[name]
	if !ok {
		return fmt.Errorf("revive %q: not a node of this hollow node set", name)
	}
	n.mu.Lock()
	n.failed = false
	n.mu.Unlock()
	slog.Debug("hollow node revived", "node", name)
	s.tasks.Add(task{name, taskStatus})
	s.tasks.Add(task{name, taskLease})
	pods, err := s.podIndex.ByIndex(nodeNameIndex, name)
	if err != nil {
		return fmt.Errorf("revive %q: list its pods: %w", name, err)
	}
	for _, obj := range pods {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			s.pods.Add(key)
		}
	}
	return nil
}

// Stop stops every loop and, with Cleanup, deletes the nodes and their
// leases (their pods are left for the pod garbage collector, as when a real
// node is removed). It is safe to call more than once.
func (s *Set) Stop() {
	s.stopOnce.Do(func() {
		s.cancel()
		s.tasks.ShutDown()
		s.pods.ShutDown()
		s.wg.Wait()
		if s.o.Cleanup {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := s.deleteAll(ctx); err != nil {
				utilruntime.HandleError(err)
			}
		}
	})
}

// errNodeGone says the Node object we heartbeat no longer exists.
var errNodeGone = errors.New("node object is gone")
