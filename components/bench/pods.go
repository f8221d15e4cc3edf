package bench

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

// PodsOptions configure a pod start-up measurement.
type PodsOptions struct {
	// Pods are created at once (from Creators concurrent clients).
	Pods, Creators int
	// Node pins the pods to one node (spec.nodeName, no scheduler); empty
	// lets the scheduler place them.
	Node string
	// Image and Args are the container (default: the kit's test server,
	// serve-hostname).
	Image string
	Args  []string
}

// PodsReport is the create → Running distribution, as seen by a watch.
type PodsReport struct {
	Pods                    int
	Created, AllRunning     time.Duration // from the first create
	P50, P90, P99, Min, Max time.Duration
	// Single is one pod alone, before the burst: the latency floor.
	Single time.Duration
}

// Write prints the report.
func (r PodsReport) Write(w io.Writer) {
	fmt.Fprintf(w, "one pod alone: create → Running %s\n", ms(r.Single))
	fmt.Fprintf(w, "%d pods created in %s, all Running after %s\n", r.Pods, ms(r.Created), ms(r.AllRunning))
	fmt.Fprintf(w, "create → Running   min %s   p50 %s   p90 %s   p99 %s   max %s\n",
		ms(r.Min), ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
}

// Pods measures how fast a node starts pods: one pod alone, then Pods
// created at once, each timed from its create call to the watch event that
// shows it Running. It works in a namespace of its own, deleted at the end.
func Pods(ctx context.Context, cfg *rest.Config, o PodsOptions) (PodsReport, error) {
	if o.Pods <= 0 {
		o.Pods = 100
	}
	if o.Creators <= 0 {
		o.Creators = 10
	}
	if o.Image == "" {
		o.Image = "localhost/kubelab/testserver:v1"
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0 // the client must not be what we measure
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return PodsReport{}, err
	}
	ns := fmt.Sprintf("bench-pods-%d", time.Now().UnixNano()%1e6)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return PodsReport{}, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	defer cleanupPods(cs, ns)
	// The namespace's default service account comes from a controller;
	// pods do not need it here (automountServiceAccountToken false).

	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return PodsReport{}, err
	}
	defer w.Stop()
	var mu sync.Mutex
	created := map[string]time.Time{}
	running := map[string]time.Time{}
	done := make(chan struct{}, o.Pods+1)
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || p.Status.Phase != corev1.PodRunning {
				continue
			}
			mu.Lock()
			if _, seen := running[p.Name]; !seen {
				running[p.Name] = time.Now()
				done <- struct{}{}
			}
			mu.Unlock()
		}
	}()
	create := func(name string) error {
		mu.Lock()
		created[name] = time.Now()
		mu.Unlock()
		_, err := cs.CoreV1().Pods(ns).Create(ctx, benchPodSpec(name, o), metav1.CreateOptions{})
		return err
	}
	wait := func(n int) error {
		timeout := time.After(time.Duration(60+n) * time.Second)
		for range n {
			select {
			case <-done:
			case <-timeout:
				return fmt.Errorf("only some pods reached Running in time (is the image %s on the node?)", o.Image)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}

	if err := create("single"); err != nil {
		return PodsReport{}, fmt.Errorf("create a pod: %w", err)
	}
	if err := wait(1); err != nil {
		return PodsReport{}, err
	}
	rep := PodsReport{Pods: o.Pods}
	mu.Lock()
	rep.Single = running["single"].Sub(created["single"])
	mu.Unlock()

	start := time.Now()
	if err := parallel(ctx, o.Creators, o.Pods, func(i int) error { return create(fmt.Sprintf("pod-%03d", i)) }); err != nil {
		return rep, fmt.Errorf("create pods: %w", err)
	}
	rep.Created = time.Since(start)
	if err := wait(o.Pods); err != nil {
		return rep, err
	}
	rep.AllRunning = time.Since(start)
	mu.Lock()
	var lat []time.Duration
	for name, t := range running {
		if name != "single" {
			lat = append(lat, t.Sub(created[name]))
		}
	}
	mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	rep.Min, rep.P50, rep.P90, rep.P99, rep.Max = lat[0], pct(lat, 0.5), pct(lat, 0.9), pct(lat, 0.99), lat[len(lat)-1]
	return rep, nil
}

func benchPodSpec(name string, o PodsOptions) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "bench-pods"}},
		Spec: corev1.PodSpec{
			NodeName:                      o.Node,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			Containers: []corev1.Container{{
				Name: "c", Image: o.Image, Args: o.Args, ImagePullPolicy: corev1.PullIfNotPresent,
			}},
		},
	}
}

// cleanupPods deletes the pods and waits until the kubelet has removed
// them (so the next run starts on an idle node), then the namespace.
func cleanupPods(cs kubernetes.Interface, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_ = cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
	for ctx.Err() == nil {
		if l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil && len(l.Items) == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	_ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
}
