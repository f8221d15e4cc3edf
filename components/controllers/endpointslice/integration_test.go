package endpointslice_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/controllers/endpointslice"
)

// TestEndpointSlices runs the controller against a real API server, with
// the test playing the kubelet: a Service's slice follows its pods
// becoming ready, not ready, terminating and gone, and is not rewritten
// when nothing changed.
func TestEndpointSlices(t *testing.T) {
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kube := kubernetes.NewForConfigOrDie(cfg)

	factory := informers.NewSharedInformerFactory(kube, 0)
	core := factory.Core().V1()
	c, err := endpointslice.New(kube, core.Services(), core.Pods(), core.Nodes(), factory.Discovery().V1().EndpointSlices(),
		record.NewFakeRecorder(100), 0)
	clustertest.Must(t, err)
	factory.Start(ctx.Done())
	go c.Run(ctx, 2)

	clustertest.Create(t, ctx, kube.CoreV1().Nodes(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1",
		Labels: map[string]string{corev1.LabelTopologyZone: "zone-a"}}})
	clustertest.Create(t, ctx, kube.CoreV1().Namespaces(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}})
	clustertest.Create(t, ctx, kube.CoreV1().Services("demo"), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	})
	for i := range 3 {
		startPod(t, ctx, kube, fmt.Sprintf("web-%d", i), fmt.Sprintf("10.200.0.%d", 10+i))
	}

	s := waitSlice(t, ctx, kube, "three ready endpoints", "10.200.0.10=ready 10.200.0.11=ready 10.200.0.12=ready")
	if s.AddressType != discoveryv1.AddressTypeIPv4 || len(s.Ports) != 1 || *s.Ports[0].Port != 8080 {
		t.Errorf("addressType %s ports %+v, want IPv4 and port 8080", s.AddressType, s.Ports)
	}
	if z := s.Endpoints[0].Zone; z == nil || *z != "zone-a" {
		t.Errorf("zone = %v, want zone-a from the node", z)
	}
	if !strings.HasPrefix(s.Name, "web-") || len(s.OwnerReferences) != 1 || s.OwnerReferences[0].Name != "web" {
		t.Errorf("name %q owners %+v, want web-… owned by the service", s.Name, s.OwnerReferences)
	}

	// Nothing changes: nothing is written.
	time.Sleep(time.Second)
	again := waitSlice(t, ctx, kube, "the same slice", "10.200.0.10=ready 10.200.0.11=ready 10.200.0.12=ready")
	if again.ResourceVersion != s.ResourceVersion {
		t.Errorf("slice rewritten without a change: resourceVersion %s → %s", s.ResourceVersion, again.ResourceVersion)
	}

	setReady(t, ctx, kube, "web-1", false)
	waitSlice(t, ctx, kube, "web-1 not ready", "10.200.0.10=ready 10.200.0.11=notready 10.200.0.12=ready")

	// Deleting a pod on a node only marks it: the kubelet (here nobody)
	// stops it. Meanwhile it is terminating, still serving.
	clustertest.Must(t, kube.CoreV1().Pods("demo").Delete(ctx, "web-2", metav1.DeleteOptions{}))
	waitSlice(t, ctx, kube, "web-2 terminating", "10.200.0.10=ready 10.200.0.11=notready 10.200.0.12=terminating")

	zero := int64(0)
	clustertest.Must(t, kube.CoreV1().Pods("demo").Delete(ctx, "web-2", metav1.DeleteOptions{GracePeriodSeconds: &zero}))
	waitSlice(t, ctx, kube, "web-2 gone", "10.200.0.10=ready 10.200.0.11=notready")
}

// waitSlice waits until the service has exactly one slice of ours whose
// endpoints read as want ("ip=ready|notready|terminating", sorted).
func waitSlice(t *testing.T, ctx context.Context, kube kubernetes.Interface, what, want string) *discoveryv1.EndpointSlice {
	t.Helper()
	var last string
	var found *discoveryv1.EndpointSlice
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		list, err := kube.DiscoveryV1().EndpointSlices("demo").List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=web," + discoveryv1.LabelManagedBy + "=" + endpointslice.ControllerName})
		if err != nil {
			return false, err
		}
		if len(list.Items) != 1 {
			last = fmt.Sprintf("%d slices", len(list.Items))
			return false, nil
		}
		found = &list.Items[0]
		var eps []string
		for _, ep := range found.Endpoints {
			state := "notready"
			switch c := ep.Conditions; {
			case *c.Terminating && *c.Serving && !*c.Ready:
				state = "terminating"
			case *c.Ready && *c.Serving:
				state = "ready"
			}
			eps = append(eps, ep.Addresses[0]+"="+state)
		}
		sort.Strings(eps)
		last = strings.Join(eps, " ")
		return last == want, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v (last seen: %s)", what, err, last)
	}
	return found
}

func startPod(t *testing.T, ctx context.Context, kube kubernetes.Interface, name, ip string) {
	t.Helper()
	pod, err := kube.CoreV1().Pods("demo").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
	}, metav1.CreateOptions{})
	clustertest.Must(t, err)
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}}
	_, err = kube.CoreV1().Pods("demo").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	clustertest.Must(t, err)
}

func setReady(t *testing.T, ctx context.Context, kube kubernetes.Interface, name string, ready bool) {
	t.Helper()
	pod, err := kube.CoreV1().Pods("demo").Get(ctx, name, metav1.GetOptions{})
	clustertest.Must(t, err)
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Now()}}
	_, err = kube.CoreV1().Pods("demo").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	clustertest.Must(t, err)
}

// TestMirroring: a selectorless Service's hand-written Endpoints show up
// as an EndpointSlice kube-proxy can read, follow edits, and go when
// marked skip-mirror.
func TestMirroring(t *testing.T) {
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kube := kubernetes.NewForConfigOrDie(cfg)

	factory := informers.NewSharedInformerFactory(kube, 0)
	core := factory.Core().V1()
	m, err := endpointslice.NewMirroring(kube, core.Services(), core.Endpoints(), factory.Discovery().V1().EndpointSlices(), record.NewFakeRecorder(100))
	clustertest.Must(t, err)
	factory.Start(ctx.Done())
	go m.Run(ctx, 2)

	clustertest.Create(t, ctx, kube.CoreV1().Namespaces(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}})
	clustertest.Create(t, ctx, kube.CoreV1().Services("demo"), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 5432}}}})
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "192.0.2.10"}}, Ports: []corev1.EndpointPort{{Port: 5432}}}}}
	clustertest.Create(t, ctx, kube.CoreV1().Endpoints("demo"), ep)
	waitMirrored(t, ctx, kube, "the endpoints mirrored", "192.0.2.10")

	ep, err = kube.CoreV1().Endpoints("demo").Get(ctx, "db", metav1.GetOptions{})
	clustertest.Must(t, err)
	ep.Subsets[0].Addresses = append(ep.Subsets[0].Addresses, corev1.EndpointAddress{IP: "192.0.2.11"})
	ep, err = kube.CoreV1().Endpoints("demo").Update(ctx, ep, metav1.UpdateOptions{})
	clustertest.Must(t, err)
	waitMirrored(t, ctx, kube, "the new address mirrored", "192.0.2.10 192.0.2.11")

	ep.Labels = map[string]string{discoveryv1.LabelSkipMirror: "true"}
	_, err = kube.CoreV1().Endpoints("demo").Update(ctx, ep, metav1.UpdateOptions{})
	clustertest.Must(t, err)
	waitMirrored(t, ctx, kube, "the slice gone after skip-mirror", "")
}

// waitMirrored waits until the mirrored slices of demo/db list exactly the
// addresses want (space separated, sorted; "" for no slice at all).
func waitMirrored(t *testing.T, ctx context.Context, kube kubernetes.Interface, what, want string) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		list, err := kube.DiscoveryV1().EndpointSlices("demo").List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=db," + discoveryv1.LabelManagedBy + "=" + endpointslice.MirroringControllerName})
		if err != nil {
			return false, err
		}
		var ips []string
		for _, s := range list.Items {
			for _, e := range s.Endpoints {
				ips = append(ips, e.Addresses...)
			}
		}
		sort.Strings(ips)
		last = strings.Join(ips, " ")
		return last == want && (want != "" || len(list.Items) == 0), nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v (last seen %q)", what, err, last)
	}
}
