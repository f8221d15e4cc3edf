package nodelifecycle

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
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
)

// harness is a controller on a fake clientset whose caches the test fills.
type harness struct {
	c        *Controller
	kube     *fake.Clientset
	factory  informers.SharedInformerFactory
	clk      *testingclock.FakeClock
	recorder *record.FakeRecorder
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	kube := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(kube, 0)
	rec := record.NewFakeRecorder(100)
	c, err := New(kube, rec, factory.Core().V1().Nodes(), factory.Coordination().V1().Leases(), factory.Core().V1().Pods(),
		Options{MonitorPeriod: time.Second, Periods: Periods{Grace: 4 * time.Second, Startup: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	clk := testingclock.NewFakeClock(t0)
	c.clock = clk
	h := &harness{c: c, kube: kube, factory: factory, clk: clk, recorder: rec}
	for _, o := range objs {
		h.put(t, o)
	}
	return h
}

// put writes an object into the informer cache, as a watch event would.
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

// refresh copies the API's version of a node into the cache.
func (h *harness) refresh(t *testing.T, name string) *corev1.Node {
	t.Helper()
	n, err := h.kube.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.put(t, n)
	return n
}

func (h *harness) writes() []string {
	var out []string
	for _, a := range h.kube.Actions() {
		if a.GetVerb() == "update" || a.GetVerb() == "patch" || a.GetVerb() == "delete" {
			s := a.GetVerb() + " " + a.GetResource().Resource
			if a.GetSubresource() != "" {
				s += "/" + a.GetSubresource()
			}
			if u, ok := a.(clienttesting.UpdateAction); ok {
				s += " " + u.GetObject().(metav1.Object).GetName()
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
		case e := <-h.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func runningPod(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

// TestDeadNodePath: a node that stops posting status is marked Unknown,
// its pods not ready, and it gets the unreachable NoExecute taint; its
// healthy neighbour is left alone. Recovery removes the taint.
func TestDeadNodePath(t *testing.T) {
	ctx := context.Background()
	live, dead := readyNode("live", corev1.ConditionTrue, t0), readyNode("dead", corev1.ConditionTrue, t0)
	h := newHarness(t, live, dead, runningPod("web", "dead"), runningPod("db", "live"))

	h.c.monitor(ctx)
	if w := h.writes(); len(w) != 0 {
		t.Fatalf("first pass wrote %v, want nothing", w)
	}
	if ev := h.events(); len(ev) != 2 || !strings.Contains(ev[0], "RegisteredNode") {
		t.Errorf("events = %v, want two RegisteredNode", ev)
	}

	// 5s later only "live" has posted a new heartbeat.
	h.clk.Step(5 * time.Second)
	h.put(t, readyNode("live", corev1.ConditionTrue, t0.Add(5*time.Second)))
	h.c.monitor(ctx)
	if got, want := h.writes(), []string{"update nodes/status dead", "update pods/status web"}; !slices.Equal(got, want) {
		t.Fatalf("writes = %v, want %v", got, want)
	}
	if ev := h.events(); !slices.Contains(ev, "Normal NodeNotReady Node dead status is now: NodeNotReady") || !slices.Contains(ev, "Warning NodeNotReady Node is not ready") {
		t.Errorf("events = %v", ev)
	}
	node := h.refresh(t, "dead")
	if readyStatus(node) != corev1.ConditionUnknown {
		t.Fatalf("dead node Ready = %s", readyStatus(node))
	}

	// The next pass queues it; the tainting pass taints it at once (burst 1).
	h.clk.Step(time.Second)
	h.put(t, readyNode("live", corev1.ConditionTrue, t0.Add(6*time.Second)))
	h.c.monitor(ctx)
	h.c.taintPass(ctx)
	if got, want := h.writes(), []string{"update nodes dead"}; !slices.Equal(got, want) {
		t.Fatalf("writes = %v, want %v", got, want)
	}
	node = h.refresh(t, "dead")
	if !hasTaint(node.Spec.Taints, UnreachableNoExecute) || node.Spec.Taints[0].TimeAdded == nil {
		t.Fatalf("taints = %v, want unreachable:NoExecute with timeAdded", node.Spec.Taints)
	}
	if err := h.c.syncNode(ctx, "dead"); err != nil {
		t.Fatal(err)
	}
	if node = h.refresh(t, "dead"); !hasTaint(node.Spec.Taints, corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}) {
		t.Fatalf("taints = %v, want unreachable:NoSchedule too", node.Spec.Taints)
	}
	h.writes()

	// The kubelet comes back: the NoExecute taint goes.
	back := node.DeepCopy()
	back.Status.Conditions[0] = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.NewTime(t0.Add(7 * time.Second))}
	h.put(t, back)
	h.c.monitor(ctx)
	node = h.refresh(t, "dead")
	if hasTaint(node.Spec.Taints, UnreachableNoExecute) {
		t.Fatalf("taints = %v, want no NoExecute after recovery", node.Spec.Taints)
	}
}

// TestAllZonesDown: when every node is silent we do not evict anything
// (more likely our own network is cut off than all kubelets died).
func TestAllZonesDown(t *testing.T) {
	ctx := context.Background()
	a, b := readyNode("a", corev1.ConditionTrue, t0), readyNode("b", corev1.ConditionTrue, t0)
	h := newHarness(t, a, b)
	h.c.monitor(ctx)
	h.clk.Step(5 * time.Second)
	h.c.monitor(ctx) // both marked Unknown
	h.refresh(t, "a")
	h.refresh(t, "b")
	h.clk.Step(time.Second)
	h.c.monitor(ctx)
	h.c.taintPass(ctx)
	for _, name := range []string{"a", "b"} {
		if n := h.refresh(t, name); hasTaint(n.Spec.Taints, UnreachableNoExecute) {
			t.Errorf("node %s tainted %v during a full disruption", name, n.Spec.Taints)
		}
	}
	if h.c.zoneStates[""] != stateFullDisruption {
		t.Errorf("zone state = %s, want FullDisruption", h.c.zoneStates[""])
	}
}

// TestSyncPodOnNotReadyNode: a pod that shows up on a not-ready node is
// marked not ready; one on a ready node is not.
func TestSyncPodOnNotReadyNode(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, readyNode("down", corev1.ConditionFalse, t0), readyNode("up", corev1.ConditionTrue, t0),
		runningPod("a", "down"), runningPod("b", "up"))
	for _, key := range []string{"default/a", "default/b"} {
		if err := h.c.syncPod(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := h.writes(), []string{"update pods/status a"}; !slices.Equal(got, want) {
		t.Errorf("writes = %v, want %v", got, want)
	}
}

// TestPartialDisruption: when more than two nodes and at least 55% of a
// zone go silent in a small cluster, tainting stops in that zone (a
// network split is likelier than that many dead machines); a zone in
// another state keeps its own pace.
func TestPartialDisruption(t *testing.T) {
	ctx := context.Background()
	var nodes []runtime.Object
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		n := readyNode(name, corev1.ConditionTrue, t0)
		n.Labels = map[string]string{corev1.LabelTopologyZone: "z1"}
		nodes = append(nodes, n)
	}
	other := readyNode("x", corev1.ConditionTrue, t0)
	other.Labels = map[string]string{corev1.LabelTopologyZone: "z2"}
	h := newHarness(t, append(nodes, other)...)
	h.c.monitor(ctx)
	// a, b stay alive in z1; c, d, e and z2's only node x go silent.
	h.clk.Step(5 * time.Second)
	for _, name := range []string{"a", "b"} {
		n := readyNode(name, corev1.ConditionTrue, t0.Add(5*time.Second))
		n.Labels = map[string]string{corev1.LabelTopologyZone: "z1"}
		h.put(t, n)
	}
	h.c.monitor(ctx)
	for _, name := range []string{"c", "d", "e", "x"} {
		h.refresh(t, name)
	}
	h.writes()
	h.clk.Step(time.Second)
	h.c.monitor(ctx)
	h.c.taintPass(ctx)
	z1, z2 := zoneKey(nodes[0].(*corev1.Node)), zoneKey(other)
	if h.c.zoneStates[z1] != statePartialDisruption || h.c.zoneStates[z2] != stateFullDisruption {
		t.Fatalf("zone states = %v", h.c.zoneStates)
	}
	// z1 stops; z2, fully down while z1 is not, is evicted at the normal rate.
	if got, want := h.writes(), []string{"update nodes x"}; !slices.Equal(got, want) {
		t.Errorf("writes = %v, want %v", got, want)
	}
}
