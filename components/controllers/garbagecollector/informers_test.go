package garbagecollector

import (
	"context"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"
)

// TestSyncMonitors checks that the collector follows discovery: a new
// resource type (a CRD) gets an informer, a vanished one loses it, and
// types it cannot delete or never needs (events) are not watched.
func TestSyncMonitors(t *testing.T) {
	all := metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	builtin := []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: all},
			{Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get", "update"}},
			{Name: "events", Namespaced: true, Kind: "Event", Verbs: all},
			{Name: "bindings", Namespaced: true, Kind: "Binding", Verbs: metav1.Verbs{"create"}},
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			{Name: "deployments", Namespaced: true, Kind: "Deployment", Verbs: all},
		}},
	}
	widgets := &metav1.APIResourceList{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{
		{Name: "widgets", Namespaced: true, Kind: "Widget", Verbs: all},
	}}

	steps := []struct {
		name      string
		discovery []*metav1.APIResourceList
		want      []string
	}{
		{"built-in types", builtin, []string{"apps/v1/deployments", "v1/pods"}},
		{"a CRD appears", append(slices.Clone(builtin), widgets), []string{"apps/v1/deployments", "example.com/v1/widgets", "v1/pods"}},
		{"the CRD is deleted", builtin, []string{"apps/v1/deployments", "v1/pods"}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gc, _ := newTestCollector(t)
	dc := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}
	gc.discovery = dc
	defer gc.stopMonitors()
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			dc.Resources = step.discovery
			if err := gc.syncMonitors(ctx); err != nil {
				t.Fatal(err)
			}
			if got := watched(gc); !slices.Equal(got, step.want) {
				t.Errorf("watching %q, want %q", got, step.want)
			}
		})
	}
}

func watched(gc *Controller) []string {
	gc.monitorsMu.Lock()
	defer gc.monitorsMu.Unlock()
	var out []string
	for gvr := range gc.monitors {
		out = append(out, gvrString(gvr))
	}
	slices.Sort(out)
	return out
}

func gvrString(gvr schema.GroupVersionResource) string {
	return gvr.GroupVersion().String() + "/" + gvr.Resource
}
