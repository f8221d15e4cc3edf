package podgc

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type podOpt func(*corev1.Pod)

func pod(name, node string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: metav1.NewTime(t0)},
		Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func phase(ph corev1.PodPhase, reason string) podOpt {
	return func(p *corev1.Pod) { p.Status.Phase, p.Status.Reason = ph, reason }
}
func age(d time.Duration) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t0.Add(-d)) }
}
func terminating(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: t0} }

func node(name string, ready corev1.ConditionStatus, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}}}
}

var outOfServiceTaint = corev1.Taint{Key: corev1.TaintNodeOutOfService, Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute}

func TestGC(t *testing.T) {
	tests := []struct {
		name       string
		threshold  int
		nodes      []*corev1.Node
		pods       []*corev1.Pod
		wantDelete []string
		wantFailed []string // pods patched Failed before deletion
	}{{
		name: "terminated pods over the threshold: evicted first, then the oldest", threshold: 2,
		nodes: []*corev1.Node{node("n1", corev1.ConditionTrue)},
		pods: []*corev1.Pod{
			pod("old", "n1", phase(corev1.PodSucceeded, ""), age(time.Hour)),
			pod("older", "n1", phase(corev1.PodFailed, ""), age(2*time.Hour)),
			pod("evicted", "n1", phase(corev1.PodFailed, "Evicted")),
			pod("new", "n1", phase(corev1.PodSucceeded, "")),
			pod("running", "n1", age(3*time.Hour)),
		},
		wantDelete: []string{"evicted", "older"},
	}, {
		name: "under the threshold nothing goes", threshold: 5,
		nodes: []*corev1.Node{node("n1", corev1.ConditionTrue)},
		pods:  []*corev1.Pod{pod("done", "n1", phase(corev1.PodSucceeded, ""))},
	}, {
		name: "terminating pods on an out-of-service, not-ready node", threshold: -1,
		nodes: []*corev1.Node{node("dead", corev1.ConditionUnknown, outOfServiceTaint), node("sick", corev1.ConditionFalse), node("tainted-but-ready", corev1.ConditionTrue, outOfServiceTaint)},
		pods: []*corev1.Pod{pod("a", "dead", terminating), pod("b", "dead"), pod("c", "sick", terminating),
			pod("d", "tainted-but-ready", terminating)},
		wantDelete: []string{"a"}, wantFailed: []string{"a"},
	}, {
		name: "terminating pods never scheduled", threshold: -1,
		pods:       []*corev1.Pod{pod("pending", "", terminating), pod("waiting", "")},
		wantDelete: []string{"pending"}, wantFailed: []string{"pending"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, kube := newTestController(t, tt.threshold, tt.nodes, tt.pods)
			c.gc(context.Background())
			deleted, failed := writes(kube)
			if !slices.Equal(deleted, tt.wantDelete) || !slices.Equal(failed, tt.wantFailed) {
				t.Errorf("deleted %v failed %v, want deleted %v failed %v", deleted, failed, tt.wantDelete, tt.wantFailed)
			}
		})
	}
}

// TestOrphanQuarantine: pods on a node that does not exist go only after
// 40s of the node missing and a GET confirming it; a node that the cache
// only lags behind on is spared.
func TestOrphanQuarantine(t *testing.T) {
	ctx := context.Background()
	late := node("late", corev1.ConditionTrue) // in the API, not yet in the cache
	c, kube := newTestController(t, -1, nil, []*corev1.Pod{pod("orphan", "gone"), pod("early", "late")})
	if err := kube.Tracker().Add(late); err != nil {
		t.Fatal(err)
	}
	clk := testingclock.NewFakeClock(t0)
	c.clock = clk

	c.gc(ctx)
	clk.Step(39 * time.Second)
	c.gc(ctx)
	if deleted, _ := writes(kube); len(deleted) != 0 {
		t.Fatalf("deleted %v within the quarantine", deleted)
	}
	clk.Step(time.Second)
	c.gc(ctx)
	// The orphan is marked Failed with DisruptionTarget, then force-deleted.
	var patched, forced bool
	for _, a := range kube.Actions() {
		if p, ok := a.(clienttesting.PatchAction); ok && strings.Contains(string(p.GetPatch()), `"reason":"DeletionByPodGC"`) &&
			strings.Contains(string(p.GetPatch()), `"phase":"Failed"`) {
			patched = true
		}
		if d, ok := a.(clienttesting.DeleteAction); ok && d.GetDeleteOptions().GracePeriodSeconds != nil && *d.GetDeleteOptions().GracePeriodSeconds == 0 {
			forced = true
		}
	}
	if !patched || !forced {
		t.Errorf("orphan: DisruptionTarget patch %v, grace-0 delete %v; want both", patched, forced)
	}
	deleted, failed := writes(kube)
	if !slices.Equal(deleted, []string{"orphan"}) || !slices.Equal(failed, []string{"orphan"}) {
		t.Fatalf("deleted %v failed %v, want the orphan only", deleted, failed)
	}
}

func newTestController(t *testing.T, threshold int, nodes []*corev1.Node, pods []*corev1.Pod) (*Controller, *fake.Clientset) {
	t.Helper()
	var objs []runtime.Object
	for _, n := range nodes {
		objs = append(objs, n)
	}
	for _, p := range pods {
		objs = append(objs, p)
	}
	kube := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(kube, 0)
	c := New(kube, factory.Core().V1().Pods(), factory.Core().V1().Nodes(), Options{TerminatedPodThreshold: threshold})
	c.clock = testingclock.NewFakeClock(t0)
	for _, n := range nodes {
		if err := factory.Core().V1().Nodes().Informer().GetIndexer().Add(n); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pods {
		if err := factory.Core().V1().Pods().Informer().GetIndexer().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	return c, kube
}

// writes lists deleted pods and pods patched to Failed, then forgets them.
func writes(kube *fake.Clientset) (deleted, failed []string) {
	for _, a := range kube.Actions() {
		switch act := a.(type) {
		case interface{ GetName() string }:
			if a.GetResource().Resource != "pods" {
				continue
			}
			switch {
			case a.GetVerb() == "delete":
				deleted = append(deleted, act.GetName())
			case a.GetVerb() == "patch" && a.GetSubresource() == "status":
				failed = append(failed, act.GetName())
			}
		}
	}
	kube.ClearActions()
	return deleted, failed
}
