package tainteviction

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func secs(n int64) *int64 { return &n }

var (
	unreachable = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &metav1.Time{Time: t0}}
	notReady    = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute, TimeAdded: &metav1.Time{Time: t0}}
	dedicated   = corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoExecute, TimeAdded: &metav1.Time{Time: t0.Add(2 * time.Second)}}
)

func tolerate(key string, s *int64) corev1.Toleration {
	return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: s}
}

func TestDecide(t *testing.T) {
	since := func(tn corev1.Taint) time.Time { return tn.TimeAdded.Time }
	tests := []struct {
		name        string
		taints      []corev1.Taint
		tolerations []corev1.Toleration
		want        verdict
	}{
		{"no taints: stay", nil, nil, verdict{}},
		{"untolerated: now", []corev1.Taint{unreachable}, nil, verdict{evict: true}},
		{"one of two untolerated: now", []corev1.Taint{unreachable, dedicated}, []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, nil)}, verdict{evict: true}},
		{"tolerated for ever", []corev1.Taint{unreachable}, []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, nil)}, verdict{}},
		{"tolerated for 300s from timeAdded", []corev1.Taint{unreachable}, []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, secs(300))},
			verdict{evict: true, at: t0.Add(300 * time.Second)}},
		{"the first toleration to run out wins", []corev1.Taint{unreachable, dedicated},
			[]corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, secs(10)), tolerate("dedicated", secs(5))},
			verdict{evict: true, at: t0.Add(7 * time.Second)}},
		{"an empty key with Exists tolerates everything", []corev1.Taint{unreachable, dedicated},
			[]corev1.Toleration{{Operator: corev1.TolerationOpExists}}, verdict{}},
		{"negative seconds mean now", []corev1.Taint{unreachable}, []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, secs(-5))},
			verdict{evict: true, at: t0}},
		{"a NoSchedule toleration does not tolerate NoExecute", []corev1.Taint{unreachable},
			[]corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}, verdict{evict: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decide(tt.taints, tt.tolerations, since); got != tt.want {
				t.Errorf("decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

type harness struct {
	c       *Controller
	kube    *fake.Clientset
	factory informers.SharedInformerFactory
	clk     *testingclock.FakeClock
	rec     *record.FakeRecorder
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	kube := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(kube, 0)
	rec := record.NewFakeRecorder(100)
	addIndex := func(i cache.SharedIndexInformer) error {
		return i.AddIndexers(cache.Indexers{NodeNameIndex: func(obj interface{}) ([]string, error) {
			return []string{obj.(*corev1.Pod).Spec.NodeName}, nil
		}})
	}
	c, err := New(kube, rec, factory.Core().V1().Pods(), factory.Core().V1().Nodes(), addIndex)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{c: c, kube: kube, factory: factory, clk: testingclock.NewFakeClock(t0), rec: rec}
	c.clock = h.clk
	for _, o := range objs {
		h.put(t, o)
	}
	return h
}

func (h *harness) put(t *testing.T, obj runtime.Object) {
	t.Helper()
	var err error
	switch o := obj.(type) {
	case *corev1.Node:
		err = h.factory.Core().V1().Nodes().Informer().GetIndexer().Update(o)
	case *corev1.Pod:
		err = h.factory.Core().V1().Pods().Informer().GetIndexer().Update(o)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (h *harness) writes() []string {
	var out []string
	for _, a := range h.kube.Actions() {
		if v := a.GetVerb(); v == "patch" || v == "delete" {
			s := v + " " + a.GetResource().Resource
			if a.GetSubresource() != "" {
				s += "/" + a.GetSubresource()
			}
			out = append(out, s)
		}
	}
	h.kube.ClearActions()
	return out
}

func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func node(taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{Taints: taints}}
}

func pod(name string, tolerations ...corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Spec:       corev1.PodSpec{NodeName: "n1", Tolerations: tolerations},
	}
}

// TestEvictionTiming: tolerationSeconds 5 means evicted at 5s after the
// taint, not before; no toleration means at once.
func TestEvictionTiming(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, node(unreachable), pod("patient", tolerate(corev1.TaintNodeUnreachable, secs(5))), pod("plain"))

	after, err := h.c.sync(ctx, "default/plain")
	if err != nil || after != 0 {
		t.Fatalf("sync plain = %s, %v", after, err)
	}
	if got, want := h.writes(), []string{"patch pods/status", "delete pods"}; !slices.Equal(got, want) {
		t.Fatalf("writes = %v, want %v", got, want)
	}
	if ev := h.events(); !slices.Equal(ev, []string{"Normal TaintManagerEviction Marking for deletion Pod default/plain"}) {
		t.Errorf("events = %v", ev)
	}
	// Our own status patch brings the pod back before the cache sees it
	// deleted: no second deletion.
	if _, err := h.c.sync(ctx, "default/plain"); err != nil {
		t.Fatal(err)
	}
	if w, ev := h.writes(), h.events(); len(w) != 0 || len(ev) != 0 {
		t.Fatalf("second sync: writes %v, events %v; want none", w, ev)
	}

	h.clk.SetTime(t0.Add(4 * time.Second))
	after, err = h.c.sync(ctx, "default/patient")
	if err != nil || after != time.Second {
		t.Fatalf("sync patient at 4s = %s, %v; want come back in 1s", after, err)
	}
	if w := h.writes(); len(w) != 0 {
		t.Fatalf("writes at 4s = %v, want none", w)
	}
	h.clk.SetTime(t0.Add(5 * time.Second))
	if after, err = h.c.sync(ctx, "default/patient"); err != nil || after != 0 {
		t.Fatalf("sync patient at 5s = %s, %v", after, err)
	}
	if got, want := h.writes(), []string{"patch pods/status", "delete pods"}; !slices.Equal(got, want) {
		t.Fatalf("writes at 5s = %v, want %v", got, want)
	}
	p, err := h.kube.CoreV1().Pods("default").Get(ctx, "patient", metav1.GetOptions{})
	if err == nil {
		t.Fatalf("pod still there: %+v", p.Status)
	}
}

// TestTaintRemovedCancels: the node recovers before the toleration runs
// out: the planned eviction is cancelled, and says so.
func TestTaintRemovedCancels(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, node(unreachable), pod("patient", tolerate(corev1.TaintNodeUnreachable, secs(5))))
	if after, _ := h.c.sync(ctx, "default/patient"); after != 5*time.Second {
		t.Fatalf("planned after %s, want 5s", after)
	}
	h.put(t, node())
	h.clk.SetTime(t0.Add(6 * time.Second))
	if after, err := h.c.sync(ctx, "default/patient"); err != nil || after != 0 {
		t.Fatalf("sync = %s, %v", after, err)
	}
	if w := h.writes(); len(w) != 0 {
		t.Errorf("writes = %v, want none", w)
	}
	if ev := h.events(); len(ev) != 1 || !strings.Contains(ev[0], "Cancelling deletion of Pod default/patient") {
		t.Errorf("events = %v", ev)
	}
}

// TestTaintWithoutTimeAdded: a hand-written taint counts from when we
// first saw it; a pod created after a taint counts from its creation.
func TestTaintWithoutTimeAdded(t *testing.T) {
	ctx := context.Background()
	bare := corev1.Taint{Key: "maintenance", Effect: corev1.TaintEffectNoExecute}
	young := pod("young", tolerate(corev1.TaintNodeUnreachable, secs(10)))
	young.CreationTimestamp = metav1.NewTime(t0.Add(3 * time.Second))
	h := newHarness(t, node(bare), pod("p", tolerate("maintenance", secs(10))))
	h.clk.SetTime(t0.Add(2 * time.Second))
	if after, _ := h.c.sync(ctx, "default/p"); after != 10*time.Second {
		t.Errorf("planned after %s, want 10s from first sight", after)
	}
	h.clk.SetTime(t0.Add(4 * time.Second))
	if after, _ := h.c.sync(ctx, "default/p"); after != 8*time.Second {
		t.Errorf("planned after %s, want 8s (first sight stays)", after)
	}
	h.put(t, node(unreachable))
	h.put(t, young)
	if after, _ := h.c.sync(ctx, "default/young"); after != 9*time.Second {
		t.Errorf("young pod planned after %s, want 9s (10s from its creation at 3s)", after)
	}
}
