package endpointslice

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

var created = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

func TestReconcile(t *testing.T) {
	web := service(corev1.IPv4Protocol)
	dual := service(corev1.IPv4Protocol, corev1.IPv6Protocol)
	three := pods(3, true)
	tests := []struct {
		name     string
		svc      *corev1.Service
		pods     []*corev1.Pod
		existing []*discoveryv1.EndpointSlice // built from want(svc, pods) when "from" is set
		from     []*corev1.Pod

		wantCreate, wantUpdate, wantDelete []int // endpoint counts of each written slice
	}{{
		name: "three pods make one slice", svc: web, pods: three,
		wantCreate: []int{3},
	}, {
		name: "nothing changed: nothing written", svc: web, pods: three, from: three,
	}, {
		name: "a pod turning not-ready updates its slice in place", svc: web, pods: append(pods(2, true), pod(2, false)), from: three,
		wantUpdate: []int{3},
	}, {
		name: "a deleted pod leaves its slice", svc: web, pods: pods(2, true), from: three,
		wantUpdate: []int{2},
	}, {
		name: "a new pod joins the slice that has room", svc: web, pods: pods(4, true), from: three,
		wantUpdate: []int{4},
	}, {
		name: "250 pods make slices of 100", svc: web, pods: pods(250, true),
		wantCreate: []int{100, 100, 50},
	}, {
		name: "a full slice stays as it is, the newcomer gets a new one", svc: web, pods: pods(101, true), from: pods(100, true),
		wantCreate: []int{1},
	}, {
		name: "a dual-stack service gets a slice per family", svc: dual, pods: three,
		wantCreate: []int{3, 3},
	}, {
		name: "no pods: one empty placeholder", svc: web,
		wantCreate: []int{0},
	}, {
		name: "the last pod gone: its slice is replaced by a placeholder", svc: web, from: pods(1, true),
		wantCreate: []int{0}, wantDelete: []int{1},
	}, {
		name: "an existing placeholder is kept", svc: web, existing: []*discoveryv1.EndpointSlice{named(serviceTarget(web, 100).newSlice(discoveryv1.AddressTypeIPv4, nil), "web-p")},
	}, {
		name: "a slice of a previous service of the same name is replaced", svc: web, pods: three,
		existing:   []*discoveryv1.EndpointSlice{ownedByOther(named(serviceTarget(web, 100).newSlice(discoveryv1.AddressTypeIPv4, nil), "web-old"))},
		wantCreate: []int{3}, wantDelete: []int{0},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := nodeLister(t)
			existing := tt.existing
			if tt.from != nil {
				existing = asSlices(tt.svc, desired(tt.svc, tt.from, nodes))
			}
			p := reconcile(serviceTarget(tt.svc, DefaultMaxEndpointsPerSlice), existing, desired(tt.svc, tt.pods, nodes))
			check := func(what string, got []*discoveryv1.EndpointSlice, want []int) {
				t.Helper()
				if len(got) != len(want) {
					t.Fatalf("%s: %d slices, want %d", what, len(got), len(want))
				}
				for i, s := range got {
					if len(s.Endpoints) != want[i] {
						t.Errorf("%s[%d]: %d endpoints, want %d", what, i, len(s.Endpoints), want[i])
					}
				}
			}
			check("create", p.create, tt.wantCreate)
			check("update", p.update, tt.wantUpdate)
			check("delete", p.delete, tt.wantDelete)
		})
	}
}

func TestDesiredEndpoint(t *testing.T) {
	svc := service(corev1.IPv4Protocol, corev1.IPv6Protocol)
	p := pod(0, true)
	p.DeletionTimestamp = &created
	p.Spec.Hostname, p.Spec.Subdomain = "db-0", "web"
	want := desired(svc, []*corev1.Pod{p}, nodeLister(t))
	for _, at := range []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6} {
		sets := want[at]
		if len(sets) != 1 {
			t.Fatalf("%s: %d port sets, want 1", at, len(sets))
		}
		for _, ps := range sets {
			if len(ps.ports) != 1 || *ps.ports[0].Port != 8080 || *ps.ports[0].Name != "http" {
				t.Errorf("%s ports = %+v, want http 8080", at, ps.ports)
			}
			for _, ep := range ps.endpoints {
				c := ep.Conditions
				if *c.Ready || !*c.Serving || !*c.Terminating {
					t.Errorf("%s conditions ready=%v serving=%v terminating=%v, want false true true", at, *c.Ready, *c.Serving, *c.Terminating)
				}
				if deref(ep.Zone) != "zone-a" || deref(ep.NodeName) != "node-1" || deref(ep.Hostname) != "db-0" {
					t.Errorf("%s zone %q node %q hostname %q", at, deref(ep.Zone), deref(ep.NodeName), deref(ep.Hostname))
				}
				if len(ep.Addresses) != 1 || (at == discoveryv1.AddressTypeIPv6) != (ep.Addresses[0] == "fd00::1") {
					t.Errorf("%s addresses = %v", at, ep.Addresses)
				}
			}
		}
	}
}

// asSlices writes a desired state out as slices, as a previous sync would have.
func asSlices(svc *corev1.Service, want desiredState) []*discoveryv1.EndpointSlice {
	p := reconcile(serviceTarget(svc, DefaultMaxEndpointsPerSlice), nil, want)
	for i, s := range p.create {
		named(s, fmt.Sprintf("web-%d", i))
	}
	return p.create
}

func named(s *discoveryv1.EndpointSlice, name string) *discoveryv1.EndpointSlice {
	s.Name, s.ResourceVersion = name, "7"
	return s
}

func ownedByOther(s *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
	s.OwnerReferences[0].UID = "an-older-service"
	return s
}

func service(families ...corev1.IPFamily) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "demo", UID: "svc-uid", Labels: map[string]string{"tier": "front"}, CreationTimestamp: created},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.32.0.20", IPFamilies: families,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}}},
	}
}

func pods(n int, ready bool) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range n {
		out = append(out, pod(i, ready))
	}
	return out
}

func pod(i int, ready bool) *corev1.Pod {
	name := fmt.Sprintf("web-%d", i)
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo", UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}, ResourceVersion: "1"},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c", Image: "nginx",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1),
			PodIPs:     []corev1.PodIP{{IP: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)}, {IP: fmt.Sprintf("fd00::%x", i+1)}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: created}}},
	}
}

func nodeLister(t *testing.T) corelisters.NodeLister {
	t.Helper()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := idx.Add(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{corev1.LabelTopologyZone: "zone-a"}}}); err != nil {
		t.Fatal(err)
	}
	return corelisters.NewNodeLister(idx)
}
