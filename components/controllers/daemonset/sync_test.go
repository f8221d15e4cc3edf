package daemonset

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
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
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/kubelab/kubelab/components/controllers/deployment"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type fixture struct {
	c        *Controller
	kube     *fake.Clientset
	recorder *record.FakeRecorder
	created  atomic.Int32
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{kube: fake.NewClientset(objs...), recorder: record.NewFakeRecorder(1000)}
	f.kube.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		pod := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		if pod.Name == "" { // the fake API server does not implement generateName
			pod.Name = fmt.Sprintf("%s%05d", pod.GenerateName, f.created.Add(1))
		}
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(f.kube, 0)
	apps, core := factory.Apps().V1(), factory.Core().V1()
	c, err := New(f.kube, apps.DaemonSets(), apps.ControllerRevisions(), core.Pods(), core.Nodes(), f.recorder)
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return now }
	c.expectations.Now = c.now
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.DaemonSet:
			apps.DaemonSets().Informer().GetIndexer().Add(o)
		case *appsv1.ControllerRevision:
			apps.ControllerRevisions().Informer().GetIndexer().Add(o)
		case *corev1.Pod:
			core.Pods().Informer().GetIndexer().Add(o)
		case *corev1.Node:
			core.Nodes().Informer().GetIndexer().Add(o)
		}
	}
	f.c = c
	return f
}

// created returns the created pods' target nodes, sorted.
func (f *fixture) createdOn(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, a := range f.kube.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == "pods" {
			p := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
			n, err := targetNode(p)
			if err != nil {
				t.Fatalf("created pod %s: %v", p.Name, err)
			}
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func (f *fixture) deleted() []string {
	var out []string
	for _, a := range f.kube.Actions() {
		if a.GetVerb() == "delete" && a.GetResource().Resource == "pods" {
			out = append(out, a.(clienttesting.DeleteAction).GetName())
		}
	}
	sort.Strings(out)
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

func (f *fixture) status(t *testing.T) appsv1.DaemonSetStatus {
	t.Helper()
	ds, err := f.kube.AppsV1().DaemonSets("default").Get(context.Background(), "agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ds.Status
}

func daemonSet(opts ...func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	labels := map[string]string{"app": "agent"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default", UID: "ds-uid", Generation: 1},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "fluentd:1"}}},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1))}},
		},
	}
	for _, o := range opts {
		o(ds)
	}
	return ds
}

func currentHash(ds *appsv1.DaemonSet) string { return deployment.ComputeHash(&ds.Spec.Template, nil) }

func node(name string, opts ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	for _, o := range opts {
		o(n)
	}
	return n
}

func tainted(key string, effect corev1.TaintEffect) func(*corev1.Node) {
	return func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Effect: effect}) }
}

type podOpt func(*corev1.Pod)

// pod is a daemon pod bound to nodeName, running and ready, with hash.
func pod(name, nodeName, hash string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"),
			Labels:            map[string]string{"app": "agent", hashLabel: hash},
			CreationTimestamp: metav1.NewTime(now.Add(-time.Hour)),
			OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(daemonSet(), controllerKind)}},
		Spec: corev1.PodSpec{NodeName: nodeName},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func notReady(p *corev1.Pod) { p.Status.Conditions = nil }
func failed(p *corev1.Pod)   { p.Status.Phase = corev1.PodFailed }
func age(d time.Duration) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(now.Add(-d)) }
}
func deleting(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(now)) }
func onDelete(ds *appsv1.DaemonSet) {
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
}
func newImage(ds *appsv1.DaemonSet) {
	ds.Spec.Template.Spec.Containers[0].Image = "fluentd:2"
	ds.Generation = 2
}
func tolerateAll(ds *appsv1.DaemonSet) {
	ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
}
