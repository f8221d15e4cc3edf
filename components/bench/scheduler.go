package bench

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/kubelab/kubelab/components/scheduler"
)

// SchedulerOptions shape the scheduler benchmark.
type SchedulerOptions struct {
	Nodes    int // Node objects to create (5000)
	Pods     int // pods to schedule (20000)
	Creators int // concurrent pod creators (16)
	// Parallelism is the scheduler's filter/score workers (16).
	Parallelism int
	// Backlog creates every pod before the scheduler starts, then times
	// how fast it drains them: the scheduler's own throughput (filter,
	// score, bind), no longer bounded by how fast pods can be created.
	Backlog bool
}

// SchedulerReport is the result: throughput from the first create to the
// last binding seen on the watch, and per-pod latency from create to
// binding.
type SchedulerReport struct {
	Nodes, Pods, Bound int
	NodeSetup          time.Duration
	CreateRate         float64 // pods created per second
	Throughput         float64 // pods bound per second
	P50, P90, P99, Max time.Duration
	Elapsed            time.Duration
	Backlog            bool
}

// Write prints the report.
func (r SchedulerReport) Write(w io.Writer) {
	fmt.Fprintf(w, "nodes: %d (created in %s)\n", r.Nodes, r.NodeSetup.Round(time.Millisecond))
	fmt.Fprintf(w, "pods: %d created at %.0f/s, %d bound in %s\n", r.Pods, r.CreateRate, r.Bound, r.Elapsed.Round(time.Millisecond))
	if r.Backlog {
		fmt.Fprintf(w, "throughput: %.0f pods/s (scheduler start to last binding, all pods waiting)\n", r.Throughput)
		fmt.Fprintf(w, "start→bound latency:  p50 %s  p90 %s  p99 %s  max %s\n", ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
		return
	}
	fmt.Fprintf(w, "throughput: %.0f pods/s (first create to last binding)\n", r.Throughput)
	fmt.Fprintf(w, "create→bound latency: p50 %s  p90 %s  p99 %s  max %s\n", ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
}

// Scheduler creates Nodes (Ready, 32 cpu, 256Gi, 110 pods), runs a
// scheduler in-process against cfg, creates pods (100m cpu, 128Mi) with
// several concurrent creators and times their bindings on a watch.
func Scheduler(ctx context.Context, cfg *rest.Config, o SchedulerOptions) (SchedulerReport, error) {
	if o.Nodes <= 0 {
		o.Nodes = 5000
	}
	if o.Pods <= 0 {
		o.Pods = 20000
	}
	if o.Creators <= 0 {
		o.Creators = 16
	}
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = 20000, 20000
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return SchedulerReport{}, err
	}
	rep := SchedulerReport{Nodes: o.Nodes, Pods: o.Pods, Backlog: o.Backlog}
	prefix := "bench-" + rand.String(5) + "-"
	begin := time.Now()
	if err := parallel(ctx, o.Creators, o.Nodes, func(i int) error {
		_, err := cs.CoreV1().Nodes().Create(ctx, benchNode(fmt.Sprintf("%snode-%05d", prefix, i)), metav1.CreateOptions{})
		return err
	}); err != nil {
		return rep, fmt.Errorf("create nodes: %w", err)
	}
	rep.NodeSetup = time.Since(begin)
	defer cleanupNodes(cs, prefix, o.Nodes)

	ns := prefix + "pods"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return rep, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	defer cleanup(cs, ns)

	sctx, stopScheduler := context.WithCancel(ctx)
	started := make(chan struct{})
	schedDone := make(chan error, 1)
	defer stopScheduler()
	startScheduler := func() error {
		go func() {
			schedDone <- scheduler.Run(sctx, scheduler.Options{Config: c, Parallelism: o.Parallelism, Started: func() { close(started) }})
		}()
		select {
		case <-started:
			return nil
		case err := <-schedDone:
			return fmt.Errorf("scheduler: %w", err)
		}
	}
	if !o.Backlog {
		if err := startScheduler(); err != nil {
			return rep, err
		}
		defer func() { stopScheduler(); <-schedDone }()
	}

	var mu sync.Mutex
	createdAt := make(map[string]time.Time, o.Pods)
	boundAt := make(map[string]time.Time, o.Pods)
	// A RetryWatcher resumes from the last event it saw should the API
	// server close the stream (it drops watchers that fall behind, and a
	// 2-core machine running everything in one process falls behind in
	// the bursts of bindings).
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return rep, fmt.Errorf("list pods in %s: %w", ns, err)
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return cs.CoreV1().Pods(ns).Watch(ctx, o)
		}})
	if err != nil {
		return rep, fmt.Errorf("watch pods in %s: %w", ns, err)
	}
	defer w.Stop()
	allBound := make(chan struct{})
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type != watch.Modified || p.Spec.NodeName == "" {
				continue
			}
			now := time.Now()
			mu.Lock()
			if _, seen := boundAt[p.Name]; !seen {
				boundAt[p.Name] = now
				if len(boundAt) == o.Pods {
					close(allBound)
				}
			}
			mu.Unlock()
		}
	}()

	start := time.Now()
	var failed atomic.Int32
	err = parallel(ctx, o.Creators, o.Pods, func(i int) error {
		name := fmt.Sprintf("pod-%06d", i)
		t := time.Now()
		mu.Lock()
		createdAt[name] = t
		mu.Unlock()
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, benchPod(name), metav1.CreateOptions{}); err != nil {
			failed.Add(1)
			return err
		}
		return nil
	})
	rep.CreateRate = float64(o.Pods) / time.Since(start).Seconds()
	if err != nil {
		return rep, fmt.Errorf("create pods: %w", err)
	}
	if o.Backlog {
		// Time from the moment the scheduler starts: its informers list
		// the waiting pods and it drains them.
		start = time.Now()
		mu.Lock()
		for name := range createdAt {
			createdAt[name] = start
		}
		mu.Unlock()
		if err := startScheduler(); err != nil {
			return rep, err
		}
		defer func() { stopScheduler(); <-schedDone }()
	}
	select {
	case <-allBound:
	case <-time.After(2 * time.Minute):
	case <-ctx.Done():
		return rep, ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	var last time.Time
	lat := make([]time.Duration, 0, len(boundAt))
	for name, at := range boundAt {
		lat = append(lat, at.Sub(createdAt[name]))
		if at.After(last) {
			last = at
		}
	}
	rep.Bound = len(boundAt)
	rep.Elapsed = last.Sub(start)
	if rep.Elapsed > 0 {
		rep.Throughput = float64(rep.Bound) / rep.Elapsed.Seconds()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		rep.P50, rep.P90, rep.P99, rep.Max = pct(lat, 0.5), pct(lat, 0.9), pct(lat, 0.99), lat[len(lat)-1]
	}
	return rep, nil
}

// parallel runs fn(0..n-1) on workers goroutines, stopping at the first error.
func parallel(ctx context.Context, workers, n int, fn func(int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func benchNode(name string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"),
				corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"),
				corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
}

func benchPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}}}},
	}
}

func cleanupNodes(cs kubernetes.Interface, prefix string, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_ = parallel(ctx, 16, n, func(i int) error {
		_ = cs.CoreV1().Nodes().Delete(ctx, fmt.Sprintf("%snode-%05d", prefix, i), metav1.DeleteOptions{})
		return nil
	})
}
