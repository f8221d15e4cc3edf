package daemonset

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

func TestSyncPods(t *testing.T) {
	h1, h2 := currentHash(daemonSet()), currentHash(daemonSet(newImage))
	maxUnavail := func(n int32) func(*appsv1.DaemonSet) {
		return func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(n))
		}
	}
	ssd := func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"} }
	labeledSSD := func(n *corev1.Node) { n.Labels["disk"] = "ssd" }
	tests := []struct {
		name        string
		ds          *appsv1.DaemonSet
		nodes       []*corev1.Node
		pods        []*corev1.Pod
		wantCreated []string // target nodes
		wantDeleted []string // pod names
		wantEvent   string
	}{
		{name: "one pod per node", ds: daemonSet(), nodes: []*corev1.Node{node("a"), node("b"), node("c")},
			wantCreated: []string{"a", "b", "c"}, wantEvent: "Normal SuccessfulCreate Created pod: agent-"},
		{name: "only missing nodes get a pod", ds: daemonSet(), nodes: []*corev1.Node{node("a"), node("b")},
			pods: []*corev1.Pod{pod("p-a", "a", h1)}, wantCreated: []string{"b"}},
		{name: "untolerated NoSchedule taint: skipped", ds: daemonSet(),
			nodes:       []*corev1.Node{node("a"), node("b", tainted("dedicated", corev1.TaintEffectNoSchedule))},
			wantCreated: []string{"a"}},
		{name: "tolerated taint: placed", ds: daemonSet(tolerateAll),
			nodes:       []*corev1.Node{node("a"), node("b", tainted("dedicated", corev1.TaintEffectNoSchedule))},
			wantCreated: []string{"a", "b"}},
		{name: "automatic tolerations: not-ready and cordoned nodes get pods", ds: daemonSet(),
			nodes: []*corev1.Node{node("a", tainted(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)),
				node("b", tainted(taintUnschedulable, corev1.TaintEffectNoSchedule))},
			wantCreated: []string{"a", "b"}},
		{name: "network-unavailable is tolerated only with hostNetwork", ds: daemonSet(),
			nodes:       []*corev1.Node{node("a", tainted(taintNetworkUnavailable, corev1.TaintEffectNoSchedule))},
			wantCreated: nil},
		{name: "network-unavailable with hostNetwork", ds: daemonSet(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.HostNetwork = true }),
			nodes:       []*corev1.Node{node("a", tainted(taintNetworkUnavailable, corev1.TaintEffectNoSchedule))},
			wantCreated: []string{"a"}},
		{name: "nodeSelector", ds: daemonSet(ssd), nodes: []*corev1.Node{node("a", labeledSSD), node("b")},
			wantCreated: []string{"a"}},
		{name: "node no longer selected: pod deleted", ds: daemonSet(ssd), nodes: []*corev1.Node{node("a", labeledSSD), node("b")},
			pods: []*corev1.Pod{pod("p-a", "a", h1), pod("p-b", "b", h1)}, wantDeleted: []string{"p-b"},
			wantEvent: "Normal SuccessfulDelete Deleted pod: p-b"},
		{name: "new NoSchedule taint: pod stays", ds: daemonSet(),
			nodes: []*corev1.Node{node("a", tainted("dedicated", corev1.TaintEffectNoSchedule))},
			pods:  []*corev1.Pod{pod("p-a", "a", h1)}},
		{name: "new NoExecute taint: pod evicted", ds: daemonSet(),
			nodes: []*corev1.Node{node("a", tainted("dedicated", corev1.TaintEffectNoExecute))},
			pods:  []*corev1.Pod{pod("p-a", "a", h1)}, wantDeleted: []string{"p-a"}},
		{name: "node removed: its pods deleted", ds: daemonSet(), nodes: []*corev1.Node{node("a")},
			pods: []*corev1.Pod{pod("p-a", "a", h1), pod("p-gone", "gone", h1)}, wantDeleted: []string{"p-gone"}},
		{name: "two pods on a node: the newer goes", ds: daemonSet(), nodes: []*corev1.Node{node("a")},
			pods: []*corev1.Pod{pod("p-new", "a", h1, age(time.Minute)), pod("p-old", "a", h1, age(time.Hour))}, wantDeleted: []string{"p-new"}},
		{name: "failed pod deleted", ds: daemonSet(), nodes: []*corev1.Node{node("a")},
			pods: []*corev1.Pod{pod("p-a", "a", h1, failed)}, wantDeleted: []string{"p-a"},
			wantEvent: "Warning FailedDaemonPod Found failed daemon pod default/p-a on node a, will try to kill it"},
		{name: "terminating pod: wait for it", ds: daemonSet(), nodes: []*corev1.Node{node("a")},
			pods: []*corev1.Pod{pod("p-a", "a", h1, deleting)}},
		{name: "rolling update: one node at a time", ds: daemonSet(newImage), nodes: []*corev1.Node{node("a"), node("b"), node("c")},
			pods: []*corev1.Pod{pod("p-a", "a", h1), pod("p-b", "b", h1), pod("p-c", "c", h1)}, wantDeleted: []string{"p-a"}},
		{name: "rolling update: maxUnavailable 2", ds: daemonSet(newImage, maxUnavail(2)), nodes: []*corev1.Node{node("a"), node("b"), node("c")},
			pods: []*corev1.Pod{pod("p-a", "a", h1), pod("p-b", "b", h1), pod("p-c", "c", h1)}, wantDeleted: []string{"p-a", "p-b"}},
		{name: "rolling update: an unready new pod uses the budget", ds: daemonSet(newImage), nodes: []*corev1.Node{node("a"), node("b"), node("c")},
			pods: []*corev1.Pod{pod("p-a", "a", h2, notReady), pod("p-b", "b", h1), pod("p-c", "c", h1)}},
		{name: "rolling update: a missing pod uses the budget (and is created)", ds: daemonSet(newImage), nodes: []*corev1.Node{node("a"), node("b")},
			pods: []*corev1.Pod{pod("p-b", "b", h1)}, wantCreated: []string{"a"}},
		{name: "rolling update: unavailable old pods are always replaced", ds: daemonSet(newImage), nodes: []*corev1.Node{node("a"), node("b"), node("c")},
			pods: []*corev1.Pod{pod("p-a", "a", h1, notReady), pod("p-b", "b", h2), pod("p-c", "c", h1)}, wantDeleted: []string{"p-a", "p-c"}},
		{name: "OnDelete: old pods stay", ds: daemonSet(newImage, onDelete), nodes: []*corev1.Node{node("a"), node("b")},
			pods: []*corev1.Pod{pod("p-a", "a", h1), pod("p-b", "b", h1)}},
		{name: "OnDelete: a deleted pod is replaced", ds: daemonSet(newImage, onDelete), nodes: []*corev1.Node{node("a"), node("b")},
			pods: []*corev1.Pod{pod("p-b", "b", h1)}, wantCreated: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := []runtime.Object{tt.ds}
			for _, n := range tt.nodes {
				objs = append(objs, n)
			}
			for _, p := range tt.pods {
				objs = append(objs, p)
			}
			f := newFixture(t, objs...)
			if err := f.c.sync(context.Background(), "default/agent"); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if got := f.createdOn(t); !reflect.DeepEqual(got, tt.wantCreated) {
				t.Errorf("created pods on %v, want %v", got, tt.wantCreated)
			}
			if got := f.deleted(); !reflect.DeepEqual(got, tt.wantDeleted) {
				t.Errorf("deleted %v, want %v", got, tt.wantDeleted)
			}
			if tt.wantEvent != "" {
				events := f.events()
				found := false
				for _, e := range events {
					found = found || strings.HasPrefix(e, tt.wantEvent)
				}
				if !found {
					t.Errorf("no event %q in %q", tt.wantEvent, events)
				}
			}
		})
	}
}

// TestNewPod checks the shape of a created pod: what the scheduler, the
// garbage collector and kubectl rely on.
func TestNewPod(t *testing.T) {
	ds := daemonSet(newImage, func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
				{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"other"}}}}}}}}
	})
	f := newFixture(t, ds, node("a"), node("other"))
	if err := f.c.sync(context.Background(), "default/agent"); err != nil {
		t.Fatal(err)
	}
	pods, err := f.kube.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("want 1 pod, got %d (%v)", len(pods.Items), err)
	}
	p := pods.Items[0]
	if p.GenerateName != "agent-" || p.Spec.NodeName != "" {
		t.Errorf("generateName %q nodeName %q, want agent- and none", p.GenerateName, p.Spec.NodeName)
	}
	wantLabels := map[string]string{"app": "agent", hashLabel: currentHash(ds), generationLabel: "2"}
	if !reflect.DeepEqual(p.Labels, wantLabels) {
		t.Errorf("labels %v, want %v", p.Labels, wantLabels)
	}
	if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != ds.UID || ref.Kind != "DaemonSet" {
		t.Errorf("controller ref %+v", ref)
	}
	terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	want := []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"other"}}}}}
	if !reflect.DeepEqual(terms, want) {
		t.Errorf("node affinity %+v, want %+v", terms, want)
	}
	if len(p.Spec.Tolerations) != 6 {
		t.Errorf("tolerations %+v, want the 6 automatic ones", p.Spec.Tolerations)
	}
}

func TestStatus(t *testing.T) {
	ds := daemonSet(newImage, onDelete)
	h1, h2 := currentHash(daemonSet()), currentHash(ds)
	f := newFixture(t, ds, node("a"), node("b"), node("c"), node("d", tainted("dedicated", corev1.TaintEffectNoSchedule)), node("e"),
		pod("p-a", "a", h2), pod("p-b", "b", h1), pod("p-c", "c", h2, notReady), pod("p-d", "d", h1))
	if err := f.c.sync(context.Background(), "default/agent"); err != nil {
		t.Fatal(err)
	}
	got := f.status(t)
	want := appsv1.DaemonSetStatus{DesiredNumberScheduled: 4, CurrentNumberScheduled: 3, NumberMisscheduled: 1,
		NumberReady: 2, NumberAvailable: 2, UpdatedNumberScheduled: 2, NumberUnavailable: 2, ObservedGeneration: 2}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("status\n got %+v\nwant %+v", got, want)
	}
}

// TestExpectations: a second sync on the same (stale) cache creates nothing.
func TestExpectations(t *testing.T) {
	f := newFixture(t, daemonSet(), node("a"), node("b"))
	for range 2 {
		if err := f.c.sync(context.Background(), "default/agent"); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.createdOn(t); len(got) != 2 {
		t.Errorf("created on %v, want a and b once", got)
	}
}

func TestHistory(t *testing.T) {
	ctx := context.Background()
	old := daemonSet()
	f := newFixture(t, old, node("a"))
	if err := f.c.sync(ctx, "default/agent"); err != nil {
		t.Fatal(err)
	}
	revs, _ := f.kube.AppsV1().ControllerRevisions("default").List(ctx, metav1.ListOptions{})
	if len(revs.Items) != 1 {
		t.Fatalf("want 1 revision, got %d", len(revs.Items))
	}
	r1 := revs.Items[0]
	if r1.Name != "agent-"+currentHash(old) || r1.Revision != 1 || r1.Labels[hashLabel] != currentHash(old) ||
		!strings.Contains(string(r1.Data.Raw), `"$patch":"replace"`) {
		t.Errorf("revision %s #%d labels %v data %s", r1.Name, r1.Revision, r1.Labels, r1.Data.Raw)
	}

	// A new template: revision 2; with revisionHistoryLimit 0 and no pod
	// left on revision 1, revision 1 goes.
	cur := daemonSet(newImage, func(ds *appsv1.DaemonSet) { ds.Spec.RevisionHistoryLimit = ptr.To[int32](0) })
	f = newFixture(t, cur, &r1, node("a"))
	if err := f.c.sync(ctx, "default/agent"); err != nil {
		t.Fatal(err)
	}
	var created, deleted []string
	for _, a := range f.kube.Actions() {
		if a.GetResource().Resource != "controllerrevisions" {
			continue
		}
		switch a.GetVerb() {
		case "create":
			r := a.(clienttesting.CreateAction).GetObject().(*appsv1.ControllerRevision)
			if r.Revision != 2 {
				t.Errorf("new revision numbered %d, want 2", r.Revision)
			}
			created = append(created, r.Name)
		case "delete":
			deleted = append(deleted, a.(clienttesting.DeleteAction).GetName())
		}
	}
	if !reflect.DeepEqual(created, []string{"agent-" + currentHash(cur)}) || !reflect.DeepEqual(deleted, []string{r1.Name}) {
		t.Errorf("created %v deleted %v", created, deleted)
	}
}

// TestFailedPodBackoff: a node whose pod keeps failing is not replaced
// again within the back-off period.
func TestFailedPodBackoff(t *testing.T) {
	f := newFixture(t, daemonSet(), node("a"), pod("p-a", "a", currentHash(daemonSet()), failed))
	for range 2 {
		if err := f.c.sync(context.Background(), "default/agent"); err != nil {
			t.Fatal(err)
		}
		f.c.expectations.Forget("default/agent") // as if the deletion had been seen
	}
	if got := f.deleted(); !reflect.DeepEqual(got, []string{"p-a"}) {
		t.Errorf("deleted %v, want p-a once", got)
	}
}
