package replicaset

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type fixture struct {
	c        *Controller
	kube     *fake.Clientset
	recorder *record.FakeRecorder
	created  atomic.Int32
}

// newFixture builds a controller whose caches hold objs, and a fake API
// server holding the same objects.
func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{kube: fake.NewClientset(objs...), recorder: record.NewFakeRecorder(1000)}
	// The fake API server does not implement generateName.
	f.kube.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		pod := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		if pod.Name == "" {
			pod.Name = fmt.Sprintf("%s%05d", pod.GenerateName, f.created.Add(1))
		}
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(f.kube, 0)
	rsInformer, pods := factory.Apps().V1().ReplicaSets().Informer(), factory.Core().V1().Pods()
	c, err := New(f.kube, rsInformer, pods, f.recorder)
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return now }
	c.expectations.Now = c.now
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.ReplicaSet:
			rsInformer.GetIndexer().Add(o)
		case *corev1.Pod:
			pods.Informer().GetIndexer().Add(o)
		}
	}
	f.c = c
	return f
}

func (f *fixture) actions(verb, resource string) []clienttesting.Action {
	var out []clienttesting.Action
	for _, a := range f.kube.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource {
			out = append(out, a)
		}
	}
	return out
}

func (f *fixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func (f *fixture) status(t *testing.T) appsv1.ReplicaSetStatus {
	t.Helper()
	rs, err := f.kube.AppsV1().ReplicaSets("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rs.Status
}

func replicaSet(n int32) *appsv1.ReplicaSet {
	labels := map[string]string{"app": "web"}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "rs-uid", Generation: 1},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(n), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"note": "x"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}
}

type podOpt func(*corev1.Pod)

func pod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"),
			Labels:            map[string]string{"app": "web"},
			CreationTimestamp: metav1.NewTime(now.Add(-time.Hour)),
			OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(replicaSet(0), appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func orphan(p *corev1.Pod)               { p.OwnerReferences = nil }
func onNode(n string) podOpt             { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func phase(ph corev1.PodPhase) podOpt    { return func(p *corev1.Pod) { p.Status.Phase = ph } }
func labeled(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Labels = l } }
func created(ago time.Duration) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(now.Add(-ago)) }
}
func restarts(n int32) podOpt {
	return func(p *corev1.Pod) { p.Status.ContainerStatuses = []corev1.ContainerStatus{{RestartCount: n}} }
}
func terminating(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(now)) }
func readySince(ago time.Duration) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-ago))}}
	}
}

func TestSyncScales(t *testing.T) {
	tests := []struct {
		name        string
		rs          *appsv1.ReplicaSet
		pods        []*corev1.Pod
		wantCreates int
		wantDeleted []string
		wantStatus  appsv1.ReplicaSetStatus
	}{{
		name:        "creates the missing pods",
		rs:          replicaSet(3),
		wantCreates: 3,
		wantStatus:  appsv1.ReplicaSetStatus{ObservedGeneration: 1, TerminatingReplicas: ptr.To[int32](0)},
	}, {
		name: "deletes the cheapest pods first",
		rs:   replicaSet(2),
		pods: []*corev1.Pod{
			pod("ready-old", onNode("n1"), readySince(time.Hour)),
			pod("unscheduled", phase(corev1.PodPending)),
			pod("pending", onNode("n1"), phase(corev1.PodPending)),
			pod("not-ready", onNode("n2")),
			pod("ready-new", onNode("n2"), readySince(time.Second)),
		},
		wantDeleted: []string{"not-ready", "pending", "unscheduled"},
		wantStatus: appsv1.ReplicaSetStatus{Replicas: 5, FullyLabeledReplicas: 5, ReadyReplicas: 2, AvailableReplicas: 2,
			ObservedGeneration: 1, TerminatingReplicas: ptr.To[int32](0)},
	}, {
		name: "terminating and finished pods are not counted",
		rs:   replicaSet(1),
		pods: []*corev1.Pod{pod("going", terminating), pod("done", phase(corev1.PodSucceeded)), pod("alive")},
		wantStatus: appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1, ObservedGeneration: 1,
			TerminatingReplicas: ptr.To[int32](1)},
	}, {
		name: "a ReplicaSet being deleted creates nothing",
		rs: func() *appsv1.ReplicaSet {
			rs := replicaSet(3)
			rs.DeletionTimestamp = ptr.To(metav1.NewTime(now))
			return rs
		}(),
		wantStatus: appsv1.ReplicaSetStatus{ObservedGeneration: 1, TerminatingReplicas: ptr.To[int32](0)},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := []runtime.Object{tt.rs}
			for _, p := range tt.pods {
				objs = append(objs, p)
			}
			f := newFixture(t, objs...)
			if err := f.c.sync(context.Background(), "default/web"); err != nil {
				t.Fatalf("sync: %v", err)
			}
			creates := f.actions("create", "pods")
			if len(creates) != tt.wantCreates {
				t.Errorf("created %d pods, want %d", len(creates), tt.wantCreates)
			}
			for _, a := range creates {
				p := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
				ref := metav1.GetControllerOf(p)
				if p.GenerateName != "web-" || p.Labels["app"] != "web" || p.Annotations["note"] != "x" ||
					ref == nil || ref.UID != "rs-uid" || ref.Kind != "ReplicaSet" || !ptr.Deref(ref.BlockOwnerDeletion, false) {
					t.Errorf("created pod %+v, want generateName web-, template labels/annotations, controller ref to the RS", p.ObjectMeta)
				}
			}
			var deleted []string
			for _, a := range f.actions("delete", "pods") {
				deleted = append(deleted, a.(clienttesting.DeleteAction).GetName())
			}
			sort.Strings(deleted)
			if strings.Join(deleted, ",") != strings.Join(tt.wantDeleted, ",") {
				t.Errorf("deleted %v, want %v", deleted, tt.wantDeleted)
			}
			wantEvents := tt.wantCreates + len(tt.wantDeleted)
			if ev := f.events(); len(ev) != wantEvents {
				t.Errorf("events %v, want %d", ev, wantEvents)
			}
			if got := f.status(t); !equalStatus(got, tt.wantStatus) {
				t.Errorf("status %+v, want %+v", got, tt.wantStatus)
			}
		})
	}
}

func equalStatus(a, b appsv1.ReplicaSetStatus) bool {
	return a.Replicas == b.Replicas && a.FullyLabeledReplicas == b.FullyLabeledReplicas && a.ReadyReplicas == b.ReadyReplicas &&
		a.AvailableReplicas == b.AvailableReplicas && a.ObservedGeneration == b.ObservedGeneration &&
		ptr.Deref(a.TerminatingReplicas, -1) == ptr.Deref(b.TerminatingReplicas, -1) && len(a.Conditions) == len(b.Conditions)
}

// TestExpectations: pods created in one sync are not yet in the cache; the
// next sync must not create them again.
func TestExpectations(t *testing.T) {
	f := newFixture(t, replicaSet(3))
	ctx := context.Background()
	for range 2 {
		if err := f.c.sync(ctx, "default/web"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.actions("create", "pods")); n != 3 {
		t.Fatalf("two syncs created %d pods, want 3", n)
	}
	// The informer shows the three pods: the next sync may act again.
	for range 3 {
		f.c.addPod(pod("seen"))
	}
	if !f.c.expectations.Satisfied("default/web") {
		t.Fatal("expectations not satisfied after the creations were observed")
	}
}

func TestSlowStartOnErrors(t *testing.T) {
	tests := []struct {
		name                 string
		succeed              int32 // creates that succeed before the API starts refusing
		wantCalls, wantAdded int
	}{
		{"all refused: one call", 0, 1, 0},
		{"three succeed: batches 1, 2, 4", 3, 7, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, replicaSet(10))
			var calls atomic.Int32
			f.kube.PrependReactor("create", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
				if calls.Add(1) > tt.succeed {
					return true, nil, apierrors.NewForbidden(corev1.Resource("pods"), "", errors.New("exceeded quota: compute"))
				}
				return false, nil, nil
			})
			err := f.c.sync(context.Background(), "default/web")
			if err == nil || !strings.Contains(err.Error(), "exceeded quota") {
				t.Fatalf("sync error %v, want the quota error", err)
			}
			if int(calls.Load()) != tt.wantCalls || int(f.created.Load()) != tt.wantAdded {
				t.Errorf("create calls %d (ok %d), want %d (ok %d)", calls.Load(), f.created.Load(), tt.wantCalls, tt.wantAdded)
			}
			st := f.status(t)
			if len(st.Conditions) != 1 || st.Conditions[0].Type != appsv1.ReplicaSetReplicaFailure || st.Conditions[0].Reason != "FailedCreate" ||
				!strings.Contains(st.Conditions[0].Message, "exceeded quota") {
				t.Errorf("conditions %+v, want ReplicaFailure/FailedCreate with the error", st.Conditions)
			}
			// Only the creates that happened are still awaited from the informer.
			if adds, _ := f.c.expectations.Pending("default/web"); adds != tt.wantAdded {
				t.Errorf("still expecting %d creations, want %d (failed ones must not stall the ReplicaSet)", adds, tt.wantAdded)
			}
			failed := 0
			for _, e := range f.events() {
				if strings.HasPrefix(e, "Warning FailedCreate Error creating:") {
					failed++
				}
			}
			if failed != tt.wantCalls-tt.wantAdded {
				t.Errorf("%d FailedCreate events, want %d", failed, tt.wantCalls-tt.wantAdded)
			}
		})
	}
}

func TestBurstLimit(t *testing.T) {
	f := newFixture(t, replicaSet(600))
	f.c.sync(context.Background(), "default/web")
	if n := len(f.actions("create", "pods")); n != burstReplicas {
		t.Errorf("created %d pods in one sync, want the burst limit %d", n, burstReplicas)
	}
}

func TestClaim(t *testing.T) {
	other := pod("other-owner")
	other.OwnerReferences[0].UID = "someone-else"
	f := newFixture(t, replicaSet(3),
		pod("orphan", orphan), pod("mine"), pod("relabeled", labeled(map[string]string{"app": "db"})),
		pod("orphan-elsewhere", orphan, labeled(map[string]string{"app": "db"})), other)
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	patches := map[string]string{}
	for _, a := range f.actions("patch", "pods") {
		pa := a.(clienttesting.PatchAction)
		patches[pa.GetName()] = string(pa.GetPatch())
	}
	if p := patches["orphan"]; !strings.Contains(p, `"controller":true`) || !strings.Contains(p, `"uid":"rs-uid"`) || !strings.Contains(p, `"uid":"orphan-uid"`) {
		t.Errorf("adoption patch %q", p)
	}
	if p := patches["relabeled"]; !strings.Contains(p, `"$patch":"delete"`) || !strings.Contains(p, `"uid":"rs-uid"`) {
		t.Errorf("release patch %q", p)
	}
	if len(patches) != 2 {
		t.Errorf("patched %v, want only the orphan and the relabeled pod", patches)
	}
	// The RS was read live before adopting.
	if len(f.actions("get", "replicasets")) == 0 {
		t.Error("adopted without re-reading the ReplicaSet")
	}
	// Owned after the sync: orphan and mine; one more pod is needed.
	if n := len(f.actions("create", "pods")); n != 1 {
		t.Errorf("created %d pods, want 1", n)
	}
	got, _ := f.kube.CoreV1().Pods("default").Get(context.Background(), "orphan", metav1.GetOptions{})
	if ref := metav1.GetControllerOf(got); ref == nil || ref.UID != "rs-uid" {
		t.Errorf("orphan's owner refs after adoption: %+v", got.OwnerReferences)
	}
	got, _ = f.kube.CoreV1().Pods("default").Get(context.Background(), "relabeled", metav1.GetOptions{})
	if len(got.OwnerReferences) != 0 {
		t.Errorf("relabeled pod's owner refs after release: %+v", got.OwnerReferences)
	}
}

func TestNoAdoptionWhileDeleting(t *testing.T) {
	rs := replicaSet(3)
	cached := rs.DeepCopy()
	rs.DeletionTimestamp = ptr.To(metav1.NewTime(now)) // the API knows; the cache does not yet
	f := newFixture(t, rs, pod("orphan", orphan))
	f.c.owners = staleOwners{owners: f.c.owners, stale: cached}
	err := f.c.sync(context.Background(), "default/web")
	if err == nil || !strings.Contains(err.Error(), "has just been deleted") {
		t.Fatalf("sync error %v, want the recheck to refuse adoption", err)
	}
	if n := len(f.actions("patch", "pods")); n != 0 {
		t.Errorf("%d pod patches, want none", n)
	}
}

// staleOwners returns an old copy from the "cache" while fresh reads the API.
type staleOwners struct {
	owners
	stale *appsv1.ReplicaSet
}

func (s staleOwners) get(string, string) (*appsv1.ReplicaSet, error) { return s.stale, nil }
