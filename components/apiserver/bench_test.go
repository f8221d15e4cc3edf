package apiserver_test

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubelab/kubelab/components/bench"
)

// BenchmarkCreateConfigMap measures one create round trip through client-go,
// TLS, the handler chain and etcd (embedded, on disk).
func BenchmarkCreateConfigMap(b *testing.B) {
	if testCP == nil {
		b.Skip("needs the control plane (run without -short)")
	}
	t := &testing.T{}
	ctx, cs, _, ns := setup(t)
	data := map[string]string{"k": "v"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("b-%d", i)}, Data: data}
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBenchAPIRuns checks the `kubelab bench api` load generator end to end
// on a short, slow run: every write is seen by the watch.
func TestBenchAPIRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	r, err := bench.API(t.Context(), testConfig, bench.APIOptions{Rate: 50, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Stats {
		if s.Op == "create" && (s.Count != 50 || s.Errors != 0) {
			t.Fatalf("create: %d ok, %d errors; want 50, 0", s.Count, s.Errors)
		}
		if s.Op == "watch delivery" && (s.Count != 50 || s.Errors != 0) {
			t.Fatalf("watch delivery: %d seen, %d missed; want 50, 0", s.Count, s.Errors)
		}
	}
}
