package deployment

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type fixture struct {
	t        *testing.T
	c        *Controller
	kube     *fake.Clientset
	recorder *record.FakeRecorder
	dStore   cache.Indexer
	rsStore  cache.Indexer
	podStore cache.Indexer
	created  int // ReplicaSets created through the fake, for creation times
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{t: t, kube: fake.NewClientset(objs...), recorder: record.NewFakeRecorder(1000)}
	// The fake API server does not assign UIDs; the controller tells
	// ReplicaSets apart by them.
	f.kube.PrependReactor("create", "replicasets", func(a clienttesting.Action) (bool, runtime.Object, error) {
		rs := a.(clienttesting.CreateAction).GetObject().(*appsv1.ReplicaSet)
		rs.UID = types.UID("uid-" + rs.Name)
		f.created++
		rs.CreationTimestamp = metav1.NewTime(now.Add(time.Duration(f.created) * time.Second))
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(f.kube, 0)
	apps := factory.Apps().V1()
	c, err := New(f.kube, apps.Deployments(), apps.ReplicaSets(), factory.Core().V1().Pods(), f.recorder)
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return now }
	f.c = c
	f.dStore, f.rsStore, f.podStore = apps.Deployments().Informer().GetIndexer(), apps.ReplicaSets().Informer().GetIndexer(), factory.Core().V1().Pods().Informer().GetIndexer()
	f.refresh()
	return f
}

// refresh copies the fake API server's objects into the caches, as the
// informers would.
func (f *fixture) refresh() {
	ctx := context.Background()
	ds, _ := f.kube.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	rss, _ := f.kube.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{})
	pods, _ := f.kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	var objs []any
	for i := range ds.Items {
		objs = append(objs, &ds.Items[i])
	}
	f.dStore.Replace(objs, "")
	objs = nil
	for i := range rss.Items {
		objs = append(objs, &rss.Items[i])
	}
	f.rsStore.Replace(objs, "")
	objs = nil
	for i := range pods.Items {
		objs = append(objs, &pods.Items[i])
	}
	f.podStore.Replace(objs, "")
}

func (f *fixture) sync() {
	f.t.Helper()
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		f.t.Fatalf("sync: %v", err)
	}
	f.refresh()
}

func (f *fixture) deployment() *appsv1.Deployment {
	d, err := f.kube.AppsV1().Deployments("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

func (f *fixture) replicaSets() []*appsv1.ReplicaSet {
	list, _ := f.kube.AppsV1().ReplicaSets("default").List(context.Background(), metav1.ListOptions{})
	var out []*appsv1.ReplicaSet
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	byCreation(out)
	return out
}

// settle plays the ReplicaSet controller and kubelet: every ReplicaSet
// gets status for its spec, and pods that existed at the last settle are
// available now (new ones become available one round later).
func (f *fixture) settle() {
	for _, rs := range f.replicaSets() {
		rs.Status.AvailableReplicas = min(rs.Status.Replicas, replicasOf(rs))
		rs.Status.Replicas, rs.Status.ReadyReplicas = replicasOf(rs), rs.Status.AvailableReplicas
		rs.Status.ObservedGeneration = rs.Generation
		rs.Status.TerminatingReplicas = ptr.To[int32](0)
		f.kube.AppsV1().ReplicaSets("default").UpdateStatus(context.Background(), rs, metav1.UpdateOptions{})
	}
	f.refresh()
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

func webDeployment(replicas int32, image string) *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "d-uid", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxSurge: ptr.To(intstr.FromString("25%")), MaxUnavailable: ptr.To(intstr.FromString("25%"))}},
			RevisionHistoryLimit: ptr.To[int32](10), ProgressDeadlineSeconds: ptr.To[int32](600),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
			},
		},
	}
}

// setTemplate changes the Deployment in the fake API server like a user.
func (f *fixture) update(change func(d *appsv1.Deployment)) {
	d := f.deployment()
	change(d)
	d.Generation++
	if _, err := f.kube.AppsV1().Deployments("default").Update(context.Background(), d, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	f.refresh()
}

func TestCreateFirstReplicaSet(t *testing.T) {
	d := webDeployment(3, "nginx:1")
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "first", corev1.LastAppliedConfigAnnotation: "{}"}
	f := newFixture(t, d)
	f.sync()
	rss := f.replicaSets()
	if len(rss) != 1 {
		t.Fatalf("%d replicasets, want 1", len(rss))
	}
	rs, hash := rss[0], ComputeHash(&d.Spec.Template, nil)
	if rs.Name != "web-"+hash || rs.Labels["pod-template-hash"] != hash || rs.Spec.Template.Labels["pod-template-hash"] != hash ||
		rs.Spec.Selector.MatchLabels["pod-template-hash"] != hash || replicasOf(rs) != 3 {
		t.Errorf("replicaset %s labels %v selector %v replicas %d", rs.Name, rs.Labels, rs.Spec.Selector, replicasOf(rs))
	}
	want := map[string]string{RevisionAnnotation: "1", DesiredReplicasAnnotation: "3", MaxReplicasAnnotation: "4", "kubernetes.io/change-cause": "first"}
	for k, v := range want {
		if rs.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, rs.Annotations[k], v)
		}
	}
	if _, ok := rs.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
		t.Error("last-applied-configuration copied to the replicaset")
	}
	if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != "d-uid" || ref.Kind != "Deployment" {
		t.Errorf("owner refs %+v", rs.OwnerReferences)
	}
	got := f.deployment()
	if got.Annotations[RevisionAnnotation] != "1" {
		t.Errorf("deployment revision %q, want 1", got.Annotations[RevisionAnnotation])
	}
	if c := getCondition(got.Status, appsv1.DeploymentProgressing); c == nil || c.Reason != NewReplicaSetReason || c.Message != `Created new replica set "web-`+hash+`"` {
		t.Errorf("Progressing %+v", c)
	}
	if ev := f.events(); len(ev) != 1 || ev[0] != "Normal ScalingReplicaSet Scaled up replica set web-"+hash+" from 0 to 3" {
		t.Errorf("events %q", ev)
	}
}

// TestRollingUpdateSteps rolls 10 replicas from v1 to v2 step by step and
// checks the bounds after every step: never more than 13 pods wanted,
// never fewer than 8 available (25% surge rounds up, 25% unavailable down).
func TestRollingUpdateSteps(t *testing.T) {
	tests := []struct {
		name               string
		surge, unavailable intstr.IntOrString
		maxTotal, minAvail int32
	}{
		{"25% / 25%", intstr.FromString("25%"), intstr.FromString("25%"), 13, 8},
		{"surge only", intstr.FromInt32(1), intstr.FromInt32(0), 11, 10},
		{"unavailable only", intstr.FromInt32(0), intstr.FromString("30%"), 10, 7},
		{"both round to 0: unavailable 1", intstr.FromString("5%"), intstr.FromString("5%"), 11, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := webDeployment(10, "nginx:1")
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &tt.surge, MaxUnavailable: &tt.unavailable}
			f := newFixture(t, d)
			for range 3 { // v1 up and available
				f.sync()
				f.settle()
			}
			f.update(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:2" })
			for step := 0; ; step++ {
				f.sync()
				f.settle()
				rss := f.replicaSets()
				total, avail := specReplicas(rss), sumStatus(rss, statusAvailable)
				if total > tt.maxTotal || avail < tt.minAvail {
					t.Fatalf("step %d: %d wanted, %d available; want ≤ %d and ≥ %d", step, total, avail, tt.maxTotal, tt.minAvail)
				}
				if d := f.deployment(); deploymentComplete(d, &d.Status) && len(rss) == 2 && replicasOf(rss[0]) == 0 {
					if c := getCondition(d.Status, appsv1.DeploymentProgressing); c == nil || c.Reason != NewRSAvailableReason ||
						c.Message != `ReplicaSet "`+rss[1].Name+`" has successfully progressed.` {
						t.Errorf("Progressing %+v", c)
					}
					if d.Annotations[RevisionAnnotation] != "2" || rss[1].Annotations[RevisionAnnotation] != "2" {
						t.Errorf("revisions: deployment %q, new rs %q", d.Annotations[RevisionAnnotation], rss[1].Annotations[RevisionAnnotation])
					}
					return
				}
				if step > 40 {
					t.Fatalf("rollout did not finish: %+v", f.deployment().Status)
				}
			}
		})
	}
}

func TestRecreate(t *testing.T) {
	d := webDeployment(3, "nginx:1")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	f := newFixture(t, d)
	f.sync()
	f.settle()
	old := f.replicaSets()[0]
	f.update(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:2" })

	f.sync() // old scaled to 0, no new RS yet
	if rss := f.replicaSets(); len(rss) != 1 || replicasOf(rss[0]) != 0 {
		t.Fatalf("after the first step: %d replicasets, old at %d; want only the old one, at 0", len(rss), replicasOf(rss[0]))
	}
	// An old pod still runs: wait for it.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "old-pod", Namespace: "default", Labels: map[string]string{"app": "web"},
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(old, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	f.kube.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{})
	f.settle() // old RS reports 0 replicas
	f.sync()
	if rss := f.replicaSets(); len(rss) != 1 {
		t.Fatalf("new replicaset created while an old pod runs")
	}
	f.kube.CoreV1().Pods("default").Delete(context.Background(), "old-pod", metav1.DeleteOptions{})
	f.refresh()
	f.sync()
	rss := f.replicaSets()
	if len(rss) != 2 || replicasOf(rss[1]) != 3 {
		t.Fatalf("after the old pods are gone: %d replicasets, want the new one at 3", len(rss))
	}
}

// rolloutRS is a ReplicaSet of d in the middle of a rollout (10 replicas,
// max 13), with n replicas, all of them available.
func rolloutRS(d *appsv1.Deployment, name, image string, n int32, age time.Duration, rev string) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), CreationTimestamp: metav1.NewTime(now.Add(-age)),
			Labels:          map[string]string{"app": "web"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, controllerKind)},
			Annotations:     map[string]string{RevisionAnnotation: rev, DesiredReplicasAnnotation: "10", MaxReplicasAnnotation: "13"}},
		Spec:   appsv1.ReplicaSetSpec{Replicas: ptr.To(n), Selector: d.Spec.Selector, Template: *d.Spec.Template.DeepCopy()},
		Status: appsv1.ReplicaSetStatus{Replicas: n, AvailableReplicas: n},
	}
	rs.Spec.Template.Spec.Containers[0].Image = image
	return rs
}

// TestLaggingStatus: the old ReplicaSet was just scaled from 8 to 7 and
// its status still says 8 available (the ReplicaSet controller has not
// reported yet). The Deployment controller must neither read that as
// "-1 unhealthy" and scale it back up to 8 (15 pods wanted, over maxSurge:
// CI caught exactly that), nor count 8 available and take one pod too
// many (7 available, under maxUnavailable).
func TestLaggingStatus(t *testing.T) {
	d := webDeployment(10, "nginx:2")
	old := rolloutRS(d, "web-old", "nginx:1", 7, time.Hour, "1")
	old.Status = appsv1.ReplicaSetStatus{Replicas: 8, AvailableReplicas: 8}
	cur := rolloutRS(d, "web-new", "nginx:2", 6, time.Minute, "2")
	cur.Status = appsv1.ReplicaSetStatus{Replicas: 6, AvailableReplicas: 5}
	f := newFixture(t, d, old, cur)
	f.sync()
	got := map[string]int32{}
	for _, rs := range f.replicaSets() {
		got[rs.Name] = replicasOf(rs)
	}
	// Really available: 7 old + 5 new = 12, minimum 8: 4 old pods may go.
	if got["web-old"] != 3 || got["web-new"] != 6 {
		t.Errorf("sizes %v, want web-old 3 (7 minus the 4 that may go), web-new 6", got)
	}
}

func TestProportionalScaling(t *testing.T) {
	// Mid-rollout: 10 replicas, maxSurge 3, 8 old + 5 new = 13 = max.
	d := webDeployment(10, "nginx:2")
	mk := func(name, image string, n int32, age time.Duration, rev string) *appsv1.ReplicaSet {
		return rolloutRS(d, name, image, n, age, rev)
	}
	f := newFixture(t, d, mk("web-old", "nginx:1", 8, time.Hour, "1"), mk("web-new", "nginx:2", 5, time.Minute, "2"))
	f.update(func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](20) }) // max 20+5 = 25: 12 more
	f.sync()
	got := map[string]int32{}
	for _, rs := range f.replicaSets() {
		got[rs.Name] = replicasOf(rs)
		if rs.Annotations[DesiredReplicasAnnotation] != "20" || rs.Annotations[MaxReplicasAnnotation] != "25" {
			t.Errorf("%s annotations %v", rs.Name, rs.Annotations)
		}
	}
	// 8*25/13 = 15.4 → 15 (+7); 5*25/13 = 9.6 → 10 (+5); 12 in all.
	if got["web-old"] != 15 || got["web-new"] != 10 {
		t.Errorf("sizes %v, want web-old 15, web-new 10", got)
	}
	ev := strings.Join(f.events(), "\n")
	if !strings.Contains(ev, "Scaled up replica set web-old from 8 to 15") || !strings.Contains(ev, "Scaled up replica set web-new from 5 to 10") {
		t.Errorf("events:\n%s", ev)
	}
}

func TestRollbackReusesReplicaSet(t *testing.T) {
	f := newFixture(t, webDeployment(2, "nginx:1"))
	for _, image := range []string{"nginx:1", "nginx:2", "nginx:1"} {
		f.update(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = image })
		for range 8 {
			f.sync()
			f.settle()
		}
	}
	rss := f.replicaSets()
	if len(rss) != 2 {
		t.Fatalf("%d replicasets, want 2", len(rss))
	}
	v1 := rss[0]
	if v1.Annotations[RevisionAnnotation] != "3" || v1.Annotations[RevisionHistoryAnnotation] != "1" || replicasOf(v1) != 2 {
		t.Errorf("re-used replicaset: replicas %d annotations %v", replicasOf(v1), v1.Annotations)
	}
	if d := f.deployment(); d.Annotations[RevisionAnnotation] != "3" {
		t.Errorf("deployment revision %q, want 3", d.Annotations[RevisionAnnotation])
	}
}

func TestProgressDeadline(t *testing.T) {
	f := newFixture(t, webDeployment(2, "nginx:1"))
	f.sync() // RS created, pods never become available
	f.c.now = func() time.Time { return now.Add(5 * time.Minute) }
	f.sync()
	if c := getCondition(f.deployment().Status, appsv1.DeploymentProgressing); c.Reason != NewReplicaSetReason {
		t.Fatalf("before the deadline: %+v", c)
	}
	if f.c.queue.Len() != 0 {
		t.Error("requeued at once; want AddAfter the deadline")
	}
	f.c.now = func() time.Time { return now.Add(11 * time.Minute) }
	f.sync()
	c := getCondition(f.deployment().Status, appsv1.DeploymentProgressing)
	rs := f.replicaSets()[0]
	if c.Status != corev1.ConditionFalse || c.Reason != TimedOutReason || c.Message != `ReplicaSet "`+rs.Name+`" has timed out progressing.` {
		t.Errorf("after the deadline: %+v", c)
	}
}

func TestPausedStillScales(t *testing.T) {
	f := newFixture(t, webDeployment(2, "nginx:1"))
	f.sync()
	f.settle()
	f.update(func(d *appsv1.Deployment) {
		d.Spec.Paused = true
		d.Spec.Replicas = ptr.To[int32](5)
		d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	})
	f.sync()
	rss := f.replicaSets()
	if len(rss) != 1 || replicasOf(rss[0]) != 5 {
		t.Errorf("paused: %d replicasets, first at %d; want the old one scaled to 5 and no rollout", len(rss), replicasOf(rss[0]))
	}
	if c := getCondition(f.deployment().Status, appsv1.DeploymentProgressing); c.Reason != PausedDeployReason || c.Status != corev1.ConditionUnknown {
		t.Errorf("Progressing %+v", c)
	}
}

func TestAdoptAndRelease(t *testing.T) {
	d := webDeployment(1, "nginx:1")
	orphan := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: "default", UID: "o", Labels: map[string]string{"app": "web"}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](0), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Image: "x"}}}}}}
	stray := orphan.DeepCopy()
	stray.Name, stray.UID, stray.Labels = "stray", "s", map[string]string{"app": "db"}
	stray.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(d, controllerKind)}
	f := newFixture(t, d, orphan, stray)
	f.sync()
	for _, rs := range f.replicaSets() {
		ref := metav1.GetControllerOf(rs)
		switch rs.Name {
		case "orphan":
			if ref == nil || ref.UID != "d-uid" {
				t.Errorf("orphan not adopted: %+v", rs.OwnerReferences)
			}
		case "stray":
			if ref != nil {
				t.Errorf("stray not released: %+v", rs.OwnerReferences)
			}
		}
	}
}
