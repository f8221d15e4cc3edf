package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/kubelab/kubelab/components/controllers/endpoints/membership"
)

// TestSync runs sync against a fake API server: the first sync creates a
// slice; a sync before the cache shows it waits instead of creating
// another; once the cache has it, a sync writes nothing.
func TestSync(t *testing.T) {
	svc := service(corev1.IPv4Protocol)
	c, kube, sliceCache := newTestController(t, svc, pods(3, true))
	ctx := context.Background()

	if err := c.sync(ctx, "demo/web"); err != nil {
		t.Fatalf("first sync: %v", err)
	}
	creates := actions(kube, "create")
	if len(creates) != 1 {
		t.Fatalf("first sync made %d creates, want 1", len(creates))
	}
	s := creates[0].(clienttesting.CreateAction).GetObject().(*discoveryv1.EndpointSlice)
	if s.GenerateName != "web-" || s.AddressType != discoveryv1.AddressTypeIPv4 || len(s.Endpoints) != 3 {
		t.Errorf("slice generateName %q, addressType %s, %d endpoints; want web-, IPv4, 3", s.GenerateName, s.AddressType, len(s.Endpoints))
	}
	wantLabels := map[string]string{"tier": "front", discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: ControllerName}
	for k, v := range wantLabels {
		if s.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, s.Labels[k], v)
		}
	}
	if ref := s.OwnerReferences; len(ref) != 1 || ref[0].UID != svc.UID || !*ref[0].Controller || !*ref[0].BlockOwnerDeletion {
		t.Errorf("ownerReferences = %+v, want the service as controller", ref)
	}
	if s.Annotations[corev1.EndpointsLastChangeTriggerTime] == "" {
		t.Error("no last-change-trigger-time annotation")
	}

	// The informer has not delivered our slice yet.
	kube.ClearActions()
	var stale *staleCacheError
	if err := c.sync(ctx, "demo/web"); !errors.As(err, &stale) {
		t.Fatalf("sync on a stale cache = %v, want staleCacheError", err)
	}
	if n := len(actions(kube, "create")); n != 0 {
		t.Fatalf("sync on a stale cache created %d slices", n)
	}

	// Now it has.
	list, err := kube.DiscoveryV1().EndpointSlices("demo").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		if err := sliceCache.Add(&list.Items[i]); err != nil {
			t.Fatal(err)
		}
	}
	kube.ClearActions()
	if err := c.sync(ctx, "demo/web"); err != nil {
		t.Fatalf("sync: %v", err)
	}
	for _, verb := range []string{"create", "update", "delete"} {
		if a := actions(kube, verb); len(a) != 0 {
			t.Errorf("an unchanged service got %d %ss", len(a), verb)
		}
	}
}

func newTestController(t *testing.T, svc *corev1.Service, pods []*corev1.Pod) (*Controller, *fake.Clientset, cache.Indexer) {
	t.Helper()
	index := func() cache.Indexer {
		return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	services, podIndex, slices := index(), index(), index()
	if err := services.Add(svc); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if err := podIndex.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	kube := fake.NewClientset()
	generateNames(kube)
	return &Controller{
		kube:        kube,
		services:    corelisters.NewServiceLister(services),
		pods:        corelisters.NewPodLister(podIndex),
		nodes:       nodeLister(t),
		slices:      discoverylisters.NewEndpointSliceLister(slices),
		recorder:    record.NewFakeRecorder(10),
		triggers:    membership.NewTriggerTimes(),
		expected:    newExpectations(),
		maxPerSlice: DefaultMaxEndpointsPerSlice,
	}, kube, slices
}

func actions(kube *fake.Clientset, verb string) []clienttesting.Action {
	var out []clienttesting.Action
	for _, a := range kube.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == "endpointslices" {
			out = append(out, a)
		}
	}
	return out
}

// generateNames makes the fake name created slices from generateName
// (web-0, web-1, …) as the API server would.
func generateNames(kube *fake.Clientset) {
	n := 0
	kube.PrependReactor("create", "endpointslices", func(a clienttesting.Action) (bool, runtime.Object, error) {
		s := a.(clienttesting.CreateAction).GetObject().(*discoveryv1.EndpointSlice)
		if s.Name == "" {
			s.Name = fmt.Sprintf("%s%d", s.GenerateName, n)
			n++
		}
		return false, nil, nil
	})
}
