package endpointslice

import (
	"context"
	"strings"
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
)

func TestMirroringSync(t *testing.T) {
	selectorless := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "demo"}}
	withSelector := selectorless.DeepCopy()
	withSelector.Spec.Selector = map[string]string{"app": "db"}
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "demo", UID: "ep-uid", Labels: map[string]string{"team": "data"},
			Annotations: map[string]string{"note": "external", corev1.LastAppliedConfigAnnotation: "{}"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{{IP: "192.0.2.10"}, {IP: "2001:db8::10"}, {IP: "db.example.com"}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "192.0.2.11"}},
			Ports:             []corev1.EndpointPort{{Name: "pg", Port: 5432, Protocol: corev1.ProtocolTCP}},
		}},
	}
	skip := ep.DeepCopy()
	skip.Labels[discoveryv1.LabelSkipMirror] = "true"
	mirrored := func() *discoveryv1.EndpointSlice {
		s := mirrorTarget(ep, DefaultMirroringMaxEndpointsPerSubset).newSlice(discoveryv1.AddressTypeIPv4, nil)
		s.Name, s.ResourceVersion = "db-old", "4"
		return s
	}

	tests := []struct {
		name       string
		svc        *corev1.Service
		ep         *corev1.Endpoints
		existing   []*discoveryv1.EndpointSlice
		wantCreate []string // "addressType:ip=ready,…"
		wantDelete int
		wantEvent  string
	}{{
		name: "hand-written endpoints are mirrored, one slice per family", svc: selectorless, ep: ep,
		wantCreate: []string{"IPv4:192.0.2.10=true,192.0.2.11=false", "IPv6:2001:db8::10=true"},
		wantDelete: 1, // the old slice with other ports goes
		existing:   []*discoveryv1.EndpointSlice{mirrored()},
		wantEvent:  "InvalidIPAddress",
	}, {
		name: "skip-mirror is respected", svc: selectorless, ep: skip, existing: []*discoveryv1.EndpointSlice{mirrored()},
		wantDelete: 1,
	}, {
		name: "a service with a selector is the other controller's", svc: withSelector, ep: ep, existing: []*discoveryv1.EndpointSlice{mirrored()},
		wantDelete: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			index := func() cache.Indexer {
				return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
			}
			services, endpoints, slices := index(), index(), index()
			must(t, services.Add(tt.svc))
			must(t, endpoints.Add(tt.ep))
			var objects []runtime.Object
			for _, s := range tt.existing {
				must(t, slices.Add(s))
				objects = append(objects, s)
			}
			kube := fake.NewClientset(objects...)
			generateNames(kube)
			recorder := record.NewFakeRecorder(10)
			m := &Mirroring{kube: kube, services: corelisters.NewServiceLister(services), endpoints: corelisters.NewEndpointsLister(endpoints),
				slices: discoverylisters.NewEndpointSliceLister(slices), recorder: recorder, expected: newExpectations(),
				maxPerSubset: DefaultMirroringMaxEndpointsPerSubset}

			if err := m.sync(context.Background(), "demo/db"); err != nil {
				t.Fatalf("sync: %v", err)
			}
			var created []string
			for _, a := range actions(kube, "create") {
				s := a.(clienttesting.CreateAction).GetObject().(*discoveryv1.EndpointSlice)
				var eps []string
				for _, e := range s.Endpoints {
					eps = append(eps, e.Addresses[0]+"="+map[bool]string{true: "true", false: "false"}[*e.Conditions.Ready])
				}
				created = append(created, string(s.AddressType)+":"+strings.Join(eps, ","))
				if s.Labels[discoveryv1.LabelManagedBy] != MirroringControllerName || s.Labels["team"] != "data" || s.Labels[discoveryv1.LabelServiceName] != "db" {
					t.Errorf("labels = %v", s.Labels)
				}
				if s.Annotations["note"] != "external" || s.Annotations[corev1.LastAppliedConfigAnnotation] != "" {
					t.Errorf("annotations = %v, want the Endpoints' minus last-applied", s.Annotations)
				}
				if o := s.OwnerReferences; len(o) != 1 || o[0].Kind != "Endpoints" || o[0].UID != "ep-uid" {
					t.Errorf("owners = %+v, want the Endpoints", o)
				}
			}
			if strings.Join(created, " ") != strings.Join(tt.wantCreate, " ") {
				t.Errorf("created %q, want %q", created, tt.wantCreate)
			}
			if n := len(actions(kube, "delete")); n != tt.wantDelete {
				t.Errorf("%d deletes, want %d", n, tt.wantDelete)
			}

			// A second sync over what the first wrote writes nothing.
			list, err := kube.DiscoveryV1().EndpointSlices("demo").List(context.Background(), metav1.ListOptions{})
			must(t, err)
			for _, s := range slices.List() {
				must(t, slices.Delete(s))
			}
			for i := range list.Items {
				must(t, slices.Add(&list.Items[i]))
			}
			m.expected = newExpectations()
			kube.ClearActions()
			if err := m.sync(context.Background(), "demo/db"); err != nil {
				t.Fatalf("second sync: %v", err)
			}
			for _, verb := range []string{"create", "update", "delete"} {
				if n := len(actions(kube, verb)); n > 0 {
					t.Errorf("second sync: %d %ss, want none", n, verb)
				}
			}

			select {
			case e := <-recorder.Events:
				if tt.wantEvent == "" || !strings.Contains(e, tt.wantEvent) {
					t.Errorf("event %q, want %q", e, tt.wantEvent)
				}
			default:
				if tt.wantEvent != "" {
					t.Errorf("no event, want %s", tt.wantEvent)
				}
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
