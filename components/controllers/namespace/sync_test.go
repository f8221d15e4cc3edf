package namespace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	fakedynamic "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

var (
	now       = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	allVerbs  = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	noCollect = metav1.Verbs{"delete", "get", "list"} // like a CRD served without deletecollection

	configmaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	pods       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	widgets    = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
	kinds      = map[schema.GroupVersionResource]string{configmaps: "ConfigMap", pods: "Pod", widgets: "Widget"}
)

// discoveryDoc is what the fake server offers.
var discoveryDoc = []*metav1.APIResourceList{
	{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "configmaps", Namespaced: true, Kind: "ConfigMap", Verbs: allVerbs},
		{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: allVerbs},
		{Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get", "update"}},
		{Name: "namespaces", Namespaced: false, Kind: "Namespace", Verbs: allVerbs},
	}},
	{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{
		{Name: "widgets", Namespaced: true, Kind: "Widget", Verbs: noCollect},
	}},
}

func TestSync(t *testing.T) {
	later := metav1.NewTime(now.Add(30 * time.Second))
	tests := []struct {
		name           string
		ns             *corev1.Namespace // nil: not in the cache
		objects        []runtime.Object  // namespace content
		discoveryFails bool

		wantRemaining  time.Duration // >0: sync asks to be retried after this
		wantErr        bool
		wantDynamic    []string // "verb resource[/name]" in order
		wantFinalize   bool
		wantConditions map[corev1.NamespaceConditionType]corev1.ConditionStatus
		wantLeft       []string // objects still in the fake after sync
	}{{
		name:     "an active namespace is left alone",
		ns:       namespace("demo", false),
		objects:  []runtime.Object{object("v1", "ConfigMap", "demo", "cm")},
		wantLeft: []string{"configmaps demo/cm"},
	}, {
		name: "a namespace that is gone needs nothing",
	}, {
		name:         "a terminating namespace is emptied and finalized",
		ns:           namespace("demo", true),
		objects:      []runtime.Object{object("v1", "ConfigMap", "demo", "cm"), object("v1", "ConfigMap", "other", "keep"), object("example.com/v1", "Widget", "demo", "w")},
		wantDynamic:  []string{"delete-collection configmaps", "list configmaps", "delete-collection pods", "list pods", "list widgets", "delete widgets/w", "list widgets"},
		wantFinalize: true,
		wantConditions: map[corev1.NamespaceConditionType]corev1.ConditionStatus{
			corev1.NamespaceDeletionDiscoveryFailure: corev1.ConditionFalse, corev1.NamespaceDeletionContentFailure: corev1.ConditionFalse,
			corev1.NamespaceContentRemaining: corev1.ConditionFalse, corev1.NamespaceFinalizersRemaining: corev1.ConditionFalse},
		wantLeft: []string{"configmaps other/keep"},
	}, {
		name:          "a pod held by a finalizer makes us wait and say why",
		ns:            namespace("demo", true),
		objects:       []runtime.Object{withDeletion(object("v1", "Pod", "demo", "p"), later, "example.com/hold")},
		wantRemaining: 16 * time.Second, // 30s grace left: look again after half of it, plus a second
		wantDynamic:   []string{"delete-collection configmaps", "list configmaps", "delete-collection pods", "list pods", "list widgets", "list widgets"},
		wantConditions: map[corev1.NamespaceConditionType]corev1.ConditionStatus{
			corev1.NamespaceDeletionDiscoveryFailure: corev1.ConditionFalse, corev1.NamespaceDeletionContentFailure: corev1.ConditionFalse,
			corev1.NamespaceContentRemaining: corev1.ConditionTrue, corev1.NamespaceFinalizersRemaining: corev1.ConditionTrue},
		wantLeft: []string{"pods demo/p"},
	}, {
		name:           "a discovery failure is reported and retried",
		ns:             namespace("demo", true),
		discoveryFails: true,
		wantErr:        true,
		wantConditions: map[corev1.NamespaceConditionType]corev1.ConditionStatus{
			corev1.NamespaceDeletionDiscoveryFailure: corev1.ConditionTrue, corev1.NamespaceDeletionContentFailure: corev1.ConditionFalse,
			corev1.NamespaceContentRemaining: corev1.ConditionFalse, corev1.NamespaceFinalizersRemaining: corev1.ConditionFalse},
	}, {
		name:     "without our finalizer there is nothing left to do",
		ns:       withoutFinalizers(namespace("demo", true)),
		objects:  []runtime.Object{object("v1", "ConfigMap", "demo", "cm")},
		wantLeft: []string{"configmaps demo/cm"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, kube, dyn := newTestController(t, tt.ns, tt.objects)
			if tt.discoveryFails {
				kube.Discovery().(*fakediscovery.FakeDiscovery).PrependReactor("get", "group", func(clienttesting.Action) (bool, runtime.Object, error) {
					return true, nil, errors.New("aggregated API unreachable")
				})
			}
			kube.ClearActions()

			err := c.sync(context.Background(), "demo")

			var remaining *contentRemainingError
			switch {
			case tt.wantRemaining > 0:
				if !errors.As(err, &remaining) || remaining.retryAfter() != tt.wantRemaining {
					t.Fatalf("sync = %v, want content remaining (retry after %s)", err, tt.wantRemaining)
				}
			case tt.wantErr:
				if err == nil || errors.As(err, &remaining) {
					t.Fatalf("sync = %v, want a failure", err)
				}
			case err != nil:
				t.Fatalf("sync: %v", err)
			}
			if got := dynamicActions(dyn); !slices.Equal(got, tt.wantDynamic) {
				t.Errorf("dynamic actions:\n got %q\nwant %q", got, tt.wantDynamic)
			}
			if got := finalized(kube); got != tt.wantFinalize {
				t.Errorf("finalize called = %v, want %v", got, tt.wantFinalize)
			}
			if tt.wantConditions != nil {
				ns, err := kube.CoreV1().Namespaces().Get(context.Background(), "demo", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				got := map[corev1.NamespaceConditionType]corev1.ConditionStatus{}
				for _, cond := range ns.Status.Conditions {
					got[cond.Type] = cond.Status
				}
				for typ, want := range tt.wantConditions {
					if got[typ] != want {
						t.Errorf("condition %s = %q, want %q (all: %+v)", typ, got[typ], want, ns.Status.Conditions)
					}
				}
			}
			if got := leftovers(t, dyn); !slices.Equal(got, tt.wantLeft) {
				t.Errorf("objects left: got %q, want %q", got, tt.wantLeft)
			}
		})
	}
}

func TestConditionMessages(t *testing.T) {
	r := &contentReport{
		deleteErrs: map[schema.GroupVersionResource]error{},
		remaining:  map[schema.GroupResource]int{{Resource: "pods"}: 2},
		finalizers: map[string]int{"orphan": 1},
	}
	want := map[corev1.NamespaceConditionType]string{
		corev1.NamespaceContentRemaining:    "Some resources are remaining: pods has 2 resource instances",
		corev1.NamespaceFinalizersRemaining: "Some content in the namespace has finalizers remaining: orphan in 1 resource instances",
	}
	for _, cond := range r.conditions() {
		if msg, ok := want[cond.Type]; ok && cond.Message != msg {
			t.Errorf("%s message = %q, want %q", cond.Type, cond.Message, msg)
		}
	}
}

// newTestController wires a controller to fake clients holding ns and objects.
func newTestController(t *testing.T, ns *corev1.Namespace, objects []runtime.Object) (*Controller, *fake.Clientset, *fakedynamic.FakeDynamicClient) {
	t.Helper()
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	var kube *fake.Clientset
	if ns != nil {
		kube = fake.NewClientset(ns)
		if err := indexer.Add(ns); err != nil {
			t.Fatal(err)
		}
	} else {
		kube = fake.NewClientset()
	}
	kube.Discovery().(*fakediscovery.FakeDiscovery).Resources = discoveryDoc

	dyn := fakedynamic.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		configmaps: "ConfigMapList", pods: "PodList", widgets: "WidgetList",
	}, objects...)
	deleteLikeAPIServer(dyn)

	return &Controller{
		kube: kube, dynamic: dyn, discovery: kube.Discovery(),
		lister: corelisters.NewNamespaceLister(indexer),
		now:    func() time.Time { return now },
	}, kube, dyn
}

// deleteLikeAPIServer makes the fake's delete and deletecollection behave
// like the API server: objects with finalizers only get a deletionTimestamp.
func deleteLikeAPIServer(dyn *fakedynamic.FakeDynamicClient) {
	tracker := dyn.Tracker()
	remove := func(gvr schema.GroupVersionResource, ns, name string) error {
		obj, err := tracker.Get(gvr, ns, name)
		if err != nil {
			return err
		}
		u := obj.(*unstructured.Unstructured)
		if len(u.GetFinalizers()) == 0 {
			return tracker.Delete(gvr, ns, name)
		}
		if u.GetDeletionTimestamp() == nil {
			u.SetDeletionTimestamp(&metav1.Time{Time: now})
		}
		return tracker.Update(gvr, u, ns)
	}
	dyn.PrependReactor("delete", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		d := a.(clienttesting.DeleteAction)
		return true, nil, remove(d.GetResource(), d.GetNamespace(), d.GetName())
	})
	dyn.PrependReactor("delete-collection", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		list, err := tracker.List(a.GetResource(), a.GetResource().GroupVersion().WithKind(kinds[a.GetResource()]), a.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		items := list.(*unstructured.UnstructuredList).Items
		for _, item := range items {
			if err := remove(a.GetResource(), item.GetNamespace(), item.GetName()); err != nil && !apierrors.IsNotFound(err) {
				return true, nil, err
			}
		}
		return true, nil, nil
	})
}

func namespace(name string, terminating bool) *corev1.Namespace {
	ns := &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "1"},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}
	if terminating {
		ns.DeletionTimestamp = &metav1.Time{Time: now.Add(-time.Minute)}
		ns.Status.Phase = corev1.NamespaceTerminating
	}
	return ns
}

func withoutFinalizers(ns *corev1.Namespace) *corev1.Namespace {
	ns.Spec.Finalizers = nil
	return ns
}

func object(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func withDeletion(u *unstructured.Unstructured, at metav1.Time, finalizers ...string) *unstructured.Unstructured {
	u.SetDeletionTimestamp(&at)
	u.SetFinalizers(finalizers)
	return u
}

// dynamicActions renders the dynamic client's calls as "verb resource[/name]".
func dynamicActions(dyn *fakedynamic.FakeDynamicClient) []string {
	var out []string
	for _, a := range dyn.Actions() {
		s := a.GetVerb() + " " + a.GetResource().Resource
		if d, ok := a.(clienttesting.DeleteAction); ok {
			s += "/" + d.GetName()
		}
		out = append(out, s)
	}
	return out
}

// finalized reports whether the finalize subresource was called, with the
// "kubernetes" finalizer removed.
func finalized(kube *fake.Clientset) bool {
	for _, a := range kube.Actions() {
		if a.GetSubresource() != "finalize" {
			continue
		}
		ns := a.(clienttesting.CreateAction).GetObject().(*corev1.Namespace)
		return !hasFinalizer(ns, corev1.FinalizerKubernetes)
	}
	return false
}

// leftovers lists what is still stored in the dynamic fake.
func leftovers(t *testing.T, dyn *fakedynamic.FakeDynamicClient) []string {
	t.Helper()
	var out []string
	for _, gvr := range []schema.GroupVersionResource{configmaps, pods, widgets} {
		list, err := dyn.Tracker().List(gvr, gvr.GroupVersion().WithKind(kinds[gvr]), "")
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range list.(*unstructured.UnstructuredList).Items {
			out = append(out, fmt.Sprintf("%s %s/%s", gvr.Resource, item.GetNamespace(), item.GetName()))
		}
	}
	return out
}
