package endpoints

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/kubelab/kubelab/components/controllers/endpoints/membership"
)

var created = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

func TestSync(t *testing.T) {
	web := service("web", intstr.FromInt32(8080))
	named := service("web", intstr.FromString("http"))
	publish := service("web", intstr.FromInt32(8080))
	publish.Spec.PublishNotReadyAddresses = true
	headless := service("web")
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	twoPorts := service("web", intstr.FromInt32(80), intstr.FromInt32(443))
	selectorless := service("web", intstr.FromInt32(80))
	selectorless.Spec.Selector = nil
	v6first := service("web", intstr.FromInt32(80))
	v6first.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol}

	p8080 := []corev1.EndpointPort{{Name: "p0", Port: 8080, Protocol: corev1.ProtocolTCP}}
	tests := []struct {
		name     string
		svc      *corev1.Service // nil: deleted
		pods     []*corev1.Pod
		existing *corev1.Endpoints

		wantVerb    string // "create", "update", "delete", or "" for no write
		wantSubsets []corev1.EndpointSubset
	}{{
		name:     "ready and not-ready pods",
		svc:      web,
		pods:     []*corev1.Pod{pod("a", "10.0.0.1", true), pod("b", "10.0.0.2", false), pod("c", "10.0.0.3", true)},
		wantVerb: "create",
		wantSubsets: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{addr("a", "10.0.0.1"), addr("c", "10.0.0.3")},
			NotReadyAddresses: []corev1.EndpointAddress{addr("b", "10.0.0.2")},
			Ports:             p8080,
		}},
	}, {
		name:        "terminating, finished and IP-less pods are left out",
		svc:         web,
		pods:        []*corev1.Pod{terminating(pod("a", "10.0.0.1", true)), succeeded(pod("b", "10.0.0.2", false)), pod("c", "", false), pod("d", "10.0.0.4", true)},
		wantVerb:    "create",
		wantSubsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("d", "10.0.0.4")}, Ports: p8080}},
	}, {
		name:        "publishNotReadyAddresses lists every pod as ready, terminating ones too",
		svc:         publish,
		pods:        []*corev1.Pod{terminating(pod("a", "10.0.0.1", true)), pod("b", "10.0.0.2", false)},
		wantVerb:    "create",
		wantSubsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "10.0.0.1"), addr("b", "10.0.0.2")}, Ports: p8080}},
	}, {
		name: "a named port resolves per pod; a pod without it is skipped",
		svc:  named,
		pods: []*corev1.Pod{withPort(pod("a", "10.0.0.1", true), "http", 8080), withPort(pod("b", "10.0.0.2", true), "http", 9090),
			withPort(pod("c", "10.0.0.3", true), "http", 8080), pod("d", "10.0.0.4", true)},
		wantVerb: "create",
		wantSubsets: []corev1.EndpointSubset{
			{Addresses: []corev1.EndpointAddress{addr("a", "10.0.0.1"), addr("c", "10.0.0.3")}, Ports: p8080},
			{Addresses: []corev1.EndpointAddress{addr("b", "10.0.0.2")}, Ports: []corev1.EndpointPort{{Name: "p0", Port: 9090, Protocol: corev1.ProtocolTCP}}},
		},
	}, {
		name:        "a headless service without ports gets addresses only, and hostnames",
		svc:         headless,
		pods:        []*corev1.Pod{withHostname(pod("a", "10.0.0.1", true), "a", "web"), withHostname(pod("b", "10.0.0.2", true), "b", "other")},
		wantVerb:    "create",
		wantSubsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{withAddrHostname(addr("a", "10.0.0.1"), "a"), addr("b", "10.0.0.2")}}},
	}, {
		name: "ports with the same pods share a subset",
		svc:  twoPorts,
		pods: []*corev1.Pod{pod("a", "10.0.0.1", true), pod("b", "10.0.0.2", false)},
		wantSubsets: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{addr("a", "10.0.0.1")},
			NotReadyAddresses: []corev1.EndpointAddress{addr("b", "10.0.0.2")},
			Ports:             []corev1.EndpointPort{{Name: "p0", Port: 80, Protocol: corev1.ProtocolTCP}, {Name: "p1", Port: 443, Protocol: corev1.ProtocolTCP}},
		}},
		wantVerb: "create",
	}, {
		name:        "the primary family of a dual-stack service picks the pod IP",
		svc:         v6first,
		pods:        []*corev1.Pod{withIPs(pod("a", "10.0.0.1", true), "10.0.0.1", "fd00::1")},
		wantVerb:    "create",
		wantSubsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "fd00::1")}, Ports: []corev1.EndpointPort{{Name: "p0", Port: 80, Protocol: corev1.ProtocolTCP}}}},
	}, {
		name:     "nothing changed: nothing written",
		svc:      web,
		pods:     []*corev1.Pod{pod("a", "10.0.0.1", true)},
		existing: endpointsFor(web, []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "10.0.0.1")}, Ports: p8080}}),
	}, {
		name:        "a pod turning not-ready moves",
		svc:         web,
		pods:        []*corev1.Pod{pod("a", "10.0.0.1", false)},
		existing:    endpointsFor(web, []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "10.0.0.1")}, Ports: p8080}}),
		wantVerb:    "update",
		wantSubsets: []corev1.EndpointSubset{{NotReadyAddresses: []corev1.EndpointAddress{addr("a", "10.0.0.1")}, Ports: p8080}},
	}, {
		name:     "a selectorless service's endpoints are not ours",
		svc:      selectorless,
		pods:     []*corev1.Pod{pod("a", "10.0.0.1", true)},
		existing: endpointsFor(selectorless, []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "192.0.2.1"}}}}),
	}, {
		name:     "a deleted service's endpoints go",
		existing: endpointsFor(web, nil),
		wantVerb: "delete",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, kube := newTestController(t, tt.svc, tt.pods, tt.existing)

			if err := c.sync(context.Background(), "demo/web"); err != nil {
				t.Fatalf("sync: %v", err)
			}

			writes := writeActions(kube)
			if tt.wantVerb == "" {
				if len(writes) > 0 {
					t.Fatalf("wrote %v, want no write", writes)
				}
				return
			}
			if len(writes) != 1 || writes[0].GetVerb() != tt.wantVerb {
				t.Fatalf("writes = %v, want one %s", writes, tt.wantVerb)
			}
			if tt.wantVerb == "delete" {
				return
			}
			got := writes[0].(clienttesting.CreateAction).GetObject().(*corev1.Endpoints)
			if !apiequality.Semantic.DeepEqual(got.Subsets, tt.wantSubsets) {
				t.Errorf("subsets:\n got %+v\nwant %+v", got.Subsets, tt.wantSubsets)
			}
			if got.Labels[LabelManagedBy] != ControllerName || got.Labels["app"] != "web" {
				t.Errorf("labels = %v, want the service's plus %s", got.Labels, LabelManagedBy)
			}
			if _, ok := got.Labels[corev1.IsHeadlessService]; ok != membership.Headless(tt.svc) {
				t.Errorf("headless label present = %v, want %v", ok, membership.Headless(tt.svc))
			}
			if tt.existing == nil && got.Annotations[corev1.EndpointsLastChangeTriggerTime] != created.UTC().Format(time.RFC3339Nano) {
				t.Errorf("trigger time annotation = %q, want the service's creation", got.Annotations[corev1.EndpointsLastChangeTriggerTime])
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	svc := service("web", intstr.FromInt32(80))
	var pods []*corev1.Pod
	for i := range 1100 {
		pods = append(pods, pod(fmt.Sprintf("p%d", i), fmt.Sprintf("10.0.%d.%d", i/250, i%250), i%10 != 0)) // 990 ready, 110 not
	}
	want, changed := desired(svc, nil, subsets(svc, pods), time.Time{})
	ready, notReady := countAddresses(want.Subsets)
	if !changed || ready != 990 || notReady != 10 || want.Annotations[corev1.EndpointsOverCapacity] != "truncated" {
		t.Fatalf("got %d ready, %d not ready, annotations %v; want 990 + 10, truncated", ready, notReady, want.Annotations)
	}
	// Written once, the cut list compares equal to a fresh computation.
	want.ResourceVersion = "1"
	if _, changed := desired(svc, want, subsets(svc, pods), time.Time{}); changed {
		t.Error("an unchanged over-capacity service is rewritten")
	}
}

func newTestController(t *testing.T, svc *corev1.Service, pods []*corev1.Pod, existing *corev1.Endpoints) (*Controller, *fake.Clientset) {
	t.Helper()
	services := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	podIndex := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	eps := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	var objects []runtime.Object
	if svc != nil {
		must(t, services.Add(svc))
	}
	for _, p := range pods {
		must(t, podIndex.Add(p))
	}
	if existing != nil {
		must(t, eps.Add(existing))
		objects = append(objects, existing)
	}
	kube := fake.NewClientset(objects...)
	return &Controller{
		kube:      kube,
		services:  corelisters.NewServiceLister(services),
		pods:      corelisters.NewPodLister(podIndex),
		endpoints: corelisters.NewEndpointsLister(eps),
		recorder:  record.NewFakeRecorder(10),
		triggers:  membership.NewTriggerTimes(),
	}, kube
}

func writeActions(kube *fake.Clientset) []clienttesting.Action {
	var out []clienttesting.Action
	for _, a := range kube.Actions() {
		if v := a.GetVerb(); v == "create" || v == "update" || v == "delete" {
			out = append(out, a)
		}
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// service is demo/web selecting app=web, one TCP port per target, named p0, p1, …
func service(name string, targets ...intstr.IntOrString) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo", Labels: map[string]string{"app": "web"}, CreationTimestamp: created},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.32.0.20",
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol}},
	}
	for i, tp := range targets {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: fmt.Sprintf("p%d", i), Port: tp.IntVal, TargetPort: tp, Protocol: corev1.ProtocolTCP})
	}
	return svc
}

func pod(name, ip string, ready bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo", UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
	}
	if ip != "" {
		p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: created}}
	return p
}

func terminating(p *corev1.Pod) *corev1.Pod { p.DeletionTimestamp = &created; return p }
func succeeded(p *corev1.Pod) *corev1.Pod   { p.Status.Phase = corev1.PodSucceeded; return p }

func withPort(p *corev1.Pod, name string, port int32) *corev1.Pod {
	p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP})
	return p
}

func withHostname(p *corev1.Pod, hostname, subdomain string) *corev1.Pod {
	p.Spec.Hostname, p.Spec.Subdomain = hostname, subdomain
	return p
}

func withIPs(p *corev1.Pod, ips ...string) *corev1.Pod {
	p.Status.PodIPs = nil
	for _, ip := range ips {
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	return p
}

func addr(pod, ip string) corev1.EndpointAddress {
	node := "node-1"
	return corev1.EndpointAddress{IP: ip, NodeName: &node,
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "demo", Name: pod, UID: types.UID("uid-" + pod)}}
}

func withAddrHostname(a corev1.EndpointAddress, h string) corev1.EndpointAddress {
	a.Hostname = h
	return a
}

func endpointsFor(svc *corev1.Service, subsets []corev1.EndpointSubset) *corev1.Endpoints {
	return &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, ResourceVersion: "5",
			Labels: map[string]string{"app": "web", LabelManagedBy: ControllerName}},
		Subsets: subsets,
	}
}
