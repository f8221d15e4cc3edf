package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// TestPodStartupLatency creates 100 testserver pods at once on the node
// and measures, with a watch, create → phase Running as a client sees it
// (scheduler, kubelet sync, sandbox, network, container start, status
// write). The figures are logged: run with -v.
func TestPodStartupLatency(t *testing.T) {
	const count = 100
	nt := newNodeTest(t)
	w, err := nt.kube.CoreV1().Pods(nt.ns).Watch(nt.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// One pod alone first: the floor the 100 are compared with.
	soloStart := time.Now()
	nt.create(nt.simplePod("solo", corev1.Container{Name: "srv", Image: testserver}))
	nt.waitPhase("solo", corev1.PodRunning)
	t.Logf("one pod alone: create → Running (polled every 100ms) %v", time.Since(soloStart).Round(time.Millisecond))
	if err := nt.deleteAllPods(nt.ctx, nt.ns, podTimeout); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	created := map[string]time.Time{}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, count)
	for i := range count {
		name := fmt.Sprintf("lat-%03d", i)
		wg.Go(func() {
			pod := nt.simplePod(name, corev1.Container{Name: "srv", Image: testserver})
			mu.Lock()
			created[name] = time.Now()
			mu.Unlock()
			if _, err := nt.kube.CoreV1().Pods(nt.ns).Create(nt.ctx, pod, metav1.CreateOptions{}); err != nil {
				errs <- fmt.Errorf("create %s: %w", name, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	createdAll := time.Since(start)

	running := map[string]time.Duration{}
	timeout := time.After(2 * time.Minute)
	for len(running) < count {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed after %d of %d pods Running", len(running), count)
			}
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || p.Status.Phase != corev1.PodRunning || p.Name == "solo" {
				continue
			}
			if _, seen := running[p.Name]; !seen {
				mu.Lock()
				running[p.Name] = time.Since(created[p.Name])
				mu.Unlock()
			}
		case <-timeout:
			t.Fatalf("only %d of %d pods Running after 2m", len(running), count)
		}
	}
	all := time.Since(start)
	var d []time.Duration
	for _, v := range running {
		d = append(d, v)
	}
	slices.Sort(d)
	pct := func(p float64) time.Duration {
		return d[min(len(d)-1, int(p*float64(len(d))+0.5)-1)].Round(time.Millisecond)
	}
	t.Logf("%d testserver pods on one node: created in %v, all Running after %v", count, createdAll.Round(time.Millisecond), all.Round(time.Millisecond))
	t.Logf("create → Running: min %v  p50 %v  p90 %v  p99 %v  max %v",
		d[0].Round(time.Millisecond), pct(0.50), pct(0.90), pct(0.99), d[len(d)-1].Round(time.Millisecond))

	// Deleting 100 pods at once is part of the cost: report it too.
	delStart := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := nt.deleteAllPods(ctx, nt.ns, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("deleting all %d (grace 1s) until the kubelet removed them: %v", count, time.Since(delStart).Round(time.Millisecond))
}
