package disruption

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture builds a controller whose caches and fake API server hold objs.
func fixture(t *testing.T, objs ...runtime.Object) (*Controller, *fake.Clientset, *record.FakeRecorder) {
	t.Helper()
	kube := fake.NewClientset(objs...)
	f := informers.NewSharedInformerFactory(kube, 0)
	inf := Informers{PDBs: f.Policy().V1().PodDisruptionBudgets(), Pods: f.Core().V1().Pods(),
		ReplicationControllers: f.Core().V1().ReplicationControllers(), ReplicaSets: f.Apps().V1().ReplicaSets(),
		Deployments: f.Apps().V1().Deployments(), StatefulSets: f.Apps().V1().StatefulSets()}
	recorder := record.NewFakeRecorder(100)
	c, err := New(kube, inf, recorder)
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return now }
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *policyv1.PodDisruptionBudget:
			err = inf.PDBs.Informer().GetIndexer().Add(o)
		case *corev1.Pod:
			err = inf.Pods.Informer().GetIndexer().Add(o)
		case *appsv1.ReplicaSet:
			err = inf.ReplicaSets.Informer().GetIndexer().Add(o)
		case *appsv1.Deployment:
			err = inf.Deployments.Informer().GetIndexer().Add(o)
		case *appsv1.StatefulSet:
			err = inf.StatefulSets.Informer().GetIndexer().Add(o)
		case *corev1.ReplicationController:
			err = inf.ReplicationControllers.Informer().GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return c, kube, recorder
}

type pdbOpt func(*policyv1.PodDisruptionBudget)

func minAvailable(v intstr.IntOrString) pdbOpt {
	return func(p *policyv1.PodDisruptionBudget) { p.Spec.MinAvailable = &v }
}
func maxUnavailable(v intstr.IntOrString) pdbOpt {
	return func(p *policyv1.PodDisruptionBudget) { p.Spec.MaxUnavailable = &v }
}
func disrupted(pods map[string]time.Duration) pdbOpt {
	return func(p *policyv1.PodDisruptionBudget) {
		p.Status.DisruptedPods = map[string]metav1.Time{}
		for name, ago := range pods {
			p.Status.DisruptedPods[name] = metav1.NewTime(now.Add(-ago))
		}
	}
}

func pdb(opts ...pdbOpt) *policyv1.PodDisruptionBudget {
	p := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Generation: 3},
		Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// The pods' controller: ReplicaSet "web" of Deployment "web" (4 replicas).
var (
	deploy = &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "deploy-uid"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](4)}}
	rs = &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "default", UID: "rs-uid",
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(deploy, appsv1.SchemeGroupVersion.WithKind("Deployment"))}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](9)}}
	statefulSet = &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default", UID: "ss-uid"},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](5)}}
	rc = &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "old", Namespace: "default", UID: "rc-uid"},
		Spec: corev1.ReplicationControllerSpec{Replicas: ptr.To[int32](2)}}
)

type podOpt func(*corev1.Pod)

func ready(p *corev1.Pod) {
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
}
func deleting(p *corev1.Pod)  { p.DeletionTimestamp = ptr.To(metav1.NewTime(now)) }
func unmanaged(p *corev1.Pod) { p.OwnerReferences = nil }
func ownedBy(o metav1.Object, gvk string) podOpt {
	kinds := map[string]schemaKind{"StatefulSet": {"apps/v1", "StatefulSet"}, "ReplicationController": {"v1", "ReplicationController"}}
	return func(p *corev1.Pod) {
		k := kinds[gvk]
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: k.apiVersion, Kind: k.kind, Name: o.GetName(), UID: o.GetUID(), Controller: ptr.To(true)}}
	}
}

type schemaKind struct{ apiVersion, kind string }

func pod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"), Labels: map[string]string{"app": "web"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func TestSync(t *testing.T) {
	pct := intstr.FromString
	num := intstr.FromInt32
	tests := []struct {
		name                                string
		pdb                                 *policyv1.PodDisruptionBudget
		objs                                []runtime.Object
		healthy, desired, expected, allowed int32
		reason                              string
		wantDisrupted                       []string
		wantEvent                           string
	}{
		{name: "minAvailable int, all ready", pdb: pdb(minAvailable(num(2))),
			objs:    []runtime.Object{pod("a", ready), pod("b", ready), pod("c", ready)},
			healthy: 3, desired: 2, expected: 3, allowed: 1, reason: policyv1.SufficientPodsReason},
		{name: "minAvailable int, a pod not ready", pdb: pdb(minAvailable(num(2))),
			objs:    []runtime.Object{pod("a", ready), pod("b", ready), pod("c")},
			healthy: 2, desired: 2, expected: 3, allowed: 0, reason: policyv1.InsufficientPodsReason},
		{name: "minAvailable int, a pod being deleted", pdb: pdb(minAvailable(num(1))),
			objs:    []runtime.Object{pod("a", ready), pod("b", ready, deleting)},
			healthy: 1, desired: 1, expected: 2, allowed: 0, reason: policyv1.InsufficientPodsReason},
		{name: "minAvailable percent uses the deployment's scale", pdb: pdb(minAvailable(pct("50%"))),
			objs:    []runtime.Object{deploy, rs, pod("a", ready), pod("b", ready), pod("c", ready)},
			healthy: 3, desired: 2, expected: 4, allowed: 1, reason: policyv1.SufficientPodsReason},
		{name: "minAvailable percent rounds up", pdb: pdb(minAvailable(pct("30%"))),
			objs:    []runtime.Object{statefulSet, pod("a", ready, ownedBy(statefulSet, "StatefulSet"))},
			healthy: 1, desired: 2, expected: 5, allowed: 0, reason: policyv1.InsufficientPodsReason},
		{name: "maxUnavailable int", pdb: pdb(maxUnavailable(num(1))),
			objs:    []runtime.Object{deploy, rs, pod("a", ready), pod("b", ready), pod("c", ready), pod("d", ready)},
			healthy: 4, desired: 3, expected: 4, allowed: 1, reason: policyv1.SufficientPodsReason},
		{name: "maxUnavailable percent, replication controller", pdb: pdb(maxUnavailable(pct("50%"))),
			objs:    []runtime.Object{rc, pod("a", ready, ownedBy(rc, "ReplicationController")), pod("b", ready, ownedBy(rc, "ReplicationController"))},
			healthy: 2, desired: 1, expected: 2, allowed: 1, reason: policyv1.SufficientPodsReason},
		{name: "maxUnavailable, unmanaged pods are left out with a warning", pdb: pdb(maxUnavailable(num(1))),
			objs:    []runtime.Object{pod("a", ready, unmanaged), pod("b", ready, unmanaged)},
			healthy: 2, desired: 0, expected: 0, allowed: 0, reason: policyv1.InsufficientPodsReason, wantEvent: "Warning UnmanagedPods"},
		{name: "maxUnavailable, controller unknown: fail safe", pdb: pdb(maxUnavailable(num(1))),
			objs:   []runtime.Object{pod("a", ready)}, // its ReplicaSet is not in the cache
			reason: policyv1.SyncFailedReason, wantEvent: "Warning CalculateExpectedPodCountFailed"},
		{name: "no pods", pdb: pdb(minAvailable(num(1))),
			reason: policyv1.InsufficientPodsReason, desired: 1, wantEvent: "Normal NoPods"},
		{name: "evicted pods are not healthy until they expire", pdb: pdb(minAvailable(num(1)), disrupted(map[string]time.Duration{
			"a": time.Minute, "b": 3 * time.Minute, "gone": time.Second, "c": time.Second})),
			objs:    []runtime.Object{pod("a", ready), pod("b", ready), pod("c", ready, deleting)},
			healthy: 1, desired: 1, expected: 3, allowed: 0, reason: policyv1.InsufficientPodsReason,
			wantDisrupted: []string{"a"}, wantEvent: "Warning NotDeleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, kube, recorder := fixture(t, append(tt.objs, tt.pdb)...)
			err := c.sync(context.Background(), "default/web")
			if tt.reason == policyv1.SyncFailedReason {
				if err == nil {
					t.Error("sync succeeded, want an error")
				}
			} else if err != nil {
				t.Fatal(err)
			}
			got, err := kube.PolicyV1().PodDisruptionBudgets("default").Get(context.Background(), "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := got.Status
			if s.CurrentHealthy != tt.healthy || s.DesiredHealthy != tt.desired || s.ExpectedPods != tt.expected || s.DisruptionsAllowed != tt.allowed {
				t.Errorf("healthy/desired/expected/allowed = %d/%d/%d/%d, want %d/%d/%d/%d", s.CurrentHealthy, s.DesiredHealthy,
					s.ExpectedPods, s.DisruptionsAllowed, tt.healthy, tt.desired, tt.expected, tt.allowed)
			}
			cond := apimeta.FindStatusCondition(s.Conditions, policyv1.DisruptionAllowedCondition)
			if cond == nil || cond.Reason != tt.reason || (cond.Status == metav1.ConditionTrue) != (tt.allowed > 0) {
				t.Errorf("condition %+v, want reason %s", cond, tt.reason)
			}
			if tt.reason != policyv1.SyncFailedReason && s.ObservedGeneration != 3 {
				t.Errorf("observedGeneration %d, want 3", s.ObservedGeneration)
			}
			if len(s.DisruptedPods) != len(tt.wantDisrupted) {
				t.Errorf("disruptedPods %v, want %v", s.DisruptedPods, tt.wantDisrupted)
			}
			for _, name := range tt.wantDisrupted {
				if _, ok := s.DisruptedPods[name]; !ok {
					t.Errorf("disruptedPods %v lacks %s", s.DisruptedPods, name)
				}
			}
			if tt.wantEvent != "" && !hasEvent(recorder, tt.wantEvent) {
				t.Errorf("no %q event", tt.wantEvent)
			}
		})
	}
}

// TestSyncNoChange: an up-to-date status is not written again.
func TestSyncNoChange(t *testing.T) {
	p := pdb(minAvailable(intstr.FromInt32(1)))
	c, kube, _ := fixture(t, p, pod("a", ready), pod("b", ready))
	if err := c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	updated, _ := kube.PolicyV1().PodDisruptionBudgets("default").Get(context.Background(), "web", metav1.GetOptions{})
	c2, kube2, _ := fixture(t, updated, pod("a", ready), pod("b", ready))
	if err := c2.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	for _, a := range kube2.Actions() {
		if a.GetVerb() == "update" {
			t.Errorf("unexpected %s %s/%s", a.GetVerb(), a.GetResource().Resource, a.GetSubresource())
		}
	}
}

func hasEvent(r *record.FakeRecorder, prefix string) bool {
	for {
		select {
		case e := <-r.Events:
			if strings.HasPrefix(e, prefix) {
				return true
			}
		default:
			return false
		}
	}
}
