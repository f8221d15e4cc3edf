// Package bench measures a cluster from the outside, the way a user feels it.
//
// API drives the API server at a steady write rate (like a busy cluster's
// controllers do) and records, per operation, the latency distribution:
//
//	writer (rate R) ── create ConfigMap ──▶ apiserver ──▶ etcd
//	                └─ get it back                        │
//	watcher ◀──────── watch event ◀── watch cache ◀───────┘   delivery = event seen - create returned
//	lister  ── list the namespace once a second
//
// It uses client-go, so what it measures includes everything kubectl and the
// controllers pay: TLS, JSON, authentication, the handler chain.
package bench

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// APIOptions shape the load.
type APIOptions struct {
	Rate     int           // creates per second (200)
	Duration time.Duration // how long to write (20s)
	Payload  int           // bytes of data per ConfigMap (256)
}

// Stat is one operation's latency distribution.
type Stat struct {
	Op                 string
	Count, Errors      int
	P50, P90, P99, Max time.Duration
}

// Report is the result of a run.
type Report struct {
	Stats    []Stat
	Achieved float64 // creates per second actually issued
}

// Write prints the report as a table.
func (r Report) Write(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "OPERATION\tCOUNT\tERRORS\tP50\tP90\tP99\tMAX")
	for _, s := range r.Stats {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\n", s.Op, s.Count, s.Errors, ms(s.P50), ms(s.P90), ms(s.P99), ms(s.Max))
	}
	tw.Flush()
	fmt.Fprintf(w, "achieved write rate: %.1f/s\n", r.Achieved)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

type recorder struct {
	mu      sync.Mutex
	samples map[string][]time.Duration
	errors  map[string]int
}

func (r *recorder) add(op string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errors[op]++
		return
	}
	r.samples[op] = append(r.samples[op], d)
}

// API runs the load against the cluster behind cfg, in a namespace of its
// own that it deletes afterwards.
func API(ctx context.Context, cfg *rest.Config, o APIOptions) (Report, error) {
	if o.Rate <= 0 {
		o.Rate = 200
	}
	if o.Duration <= 0 {
		o.Duration = 20 * time.Second
	}
	if o.Payload <= 0 {
		o.Payload = 256
	}
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = float32(o.Rate*4), o.Rate*4
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return Report{}, err
	}
	ns := "bench-" + rand.String(6)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return Report{}, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	defer cleanup(cs, ns)

	rec := &recorder{samples: map[string][]time.Duration{}, errors: map[string]int{}}
	var mu sync.Mutex
	created := map[string]time.Time{} // name -> when its create returned
	seen := map[string]time.Time{}    // name -> when its ADDED event arrived

	w, err := cs.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return Report{}, fmt.Errorf("watch configmaps in %s: %w", ns, err)
	}
	defer w.Stop()
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added {
				continue
			}
			now := time.Now()
			if cm, ok := ev.Object.(*corev1.ConfigMap); ok {
				mu.Lock()
				seen[cm.Name] = now
				mu.Unlock()
			}
		}
	}()

	lctx, stopLister := context.WithCancel(ctx)
	var lwg sync.WaitGroup
	lwg.Add(1)
	go func() {
		defer lwg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
				start := time.Now()
				_, err := cs.CoreV1().ConfigMaps(ns).List(lctx, metav1.ListOptions{})
				if lctx.Err() == nil {
					rec.add("list (namespace)", time.Since(start), err)
				}
			}
		}
	}()

	payload := map[string]string{"data": rand.String(o.Payload)}
	total := int(o.Duration.Seconds() * float64(o.Rate))
	interval := time.Second / time.Duration(o.Rate)
	var wg sync.WaitGroup
	begin := time.Now()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		if d := time.Until(begin.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			start := time.Now()
			_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: payload}, metav1.CreateOptions{})
			done := time.Now()
			rec.add("create", done.Sub(start), err)
			if err != nil {
				return
			}
			mu.Lock()
			created[name] = done
			mu.Unlock()
			gstart := time.Now()
			_, err = cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
			rec.add("get", time.Since(gstart), err)
		}(fmt.Sprintf("cm-%06d", i))
	}
	wg.Wait()
	achieved := float64(total) / time.Since(begin).Seconds()
	stopLister()
	lwg.Wait()

	// Give the last events a moment to arrive, then compute delivery latency.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n >= len(created) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.Stop()
	<-watchDone
	mu.Lock()
	for name, done := range created {
		at, ok := seen[name]
		if !ok {
			rec.add("watch delivery", 0, fmt.Errorf("no event for %s", name))
			continue
		}
		d := at.Sub(done)
		if d < 0 {
			d = 0 // the event beat the create's response
		}
		rec.add("watch delivery", d, nil)
	}
	mu.Unlock()
	return Report{Stats: summarize(rec), Achieved: achieved}, nil
}

func summarize(rec *recorder) []Stat {
	var out []Stat
	for _, op := range []string{"create", "get", "list (namespace)", "watch delivery"} {
		s := rec.samples[op]
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		st := Stat{Op: op, Count: len(s), Errors: rec.errors[op]}
		if len(s) > 0 {
			st.P50, st.P90, st.P99, st.Max = pct(s, 0.50), pct(s, 0.90), pct(s, 0.99), s[len(s)-1]
		}
		out = append(out, st)
	}
	return out
}

func pct(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

// cleanup removes what the run created: its objects, then its namespace.
func cleanup(cs kubernetes.Interface, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_ = cs.CoreV1().ConfigMaps(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
	_ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
}
