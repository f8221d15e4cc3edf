package endpoints_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/controllers/endpoints"
)

// TestEndpoints runs the controller against a real API server, with the
// test playing the kubelet (it sets pod IPs and readiness through the
// status subresource): a Service's Endpoints follow its pods becoming
// ready, not ready, and deleted, and go with the Service.
func TestEndpoints(t *testing.T) {
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kube := kubernetes.NewForConfigOrDie(cfg)

	factory := informers.NewSharedInformerFactory(kube, 0)
	core := factory.Core().V1()
	c, err := endpoints.New(kube, core.Services(), core.Pods(), core.Endpoints(), record.NewFakeRecorder(100))
	clustertest.Must(t, err)
	factory.Start(ctx.Done())
	go c.Run(ctx, 2)

	clustertest.Create(t, ctx, kube.CoreV1().Namespaces(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}})
	clustertest.Create(t, ctx, kube.CoreV1().Services("demo"), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"tier": "front"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}},
	})
	for i := range 3 {
		startPod(t, ctx, kube, fmt.Sprintf("web-%d", i), fmt.Sprintf("10.200.0.%d", 10+i))
	}

	waitEndpoints(t, ctx, kube, "three ready addresses", []string{"10.200.0.10", "10.200.0.11", "10.200.0.12"}, nil)
	ep, err := kube.CoreV1().Endpoints("demo").Get(ctx, "web", metav1.GetOptions{})
	clustertest.Must(t, err)
	if ep.Labels[endpoints.LabelManagedBy] != endpoints.ControllerName || ep.Labels["tier"] != "front" {
		t.Errorf("labels = %v, want the service's and managed-by", ep.Labels)
	}
	if p := ep.Subsets[0].Ports; len(p) != 1 || p[0].Port != 8080 || p[0].Name != "http" {
		t.Errorf("ports = %+v, want http 8080 (the named targetPort)", p)
	}

	setReady(t, ctx, kube, "web-1", false)
	waitEndpoints(t, ctx, kube, "web-1 not ready", []string{"10.200.0.10", "10.200.0.12"}, []string{"10.200.0.11"})

	zero := int64(0)
	clustertest.Must(t, kube.CoreV1().Pods("demo").Delete(ctx, "web-2", metav1.DeleteOptions{GracePeriodSeconds: &zero}))
	waitEndpoints(t, ctx, kube, "web-2 gone", []string{"10.200.0.10"}, []string{"10.200.0.11"})

	clustertest.Must(t, kube.CoreV1().Services("demo").Delete(ctx, "web", metav1.DeleteOptions{}))
	poll(t, ctx, "the endpoints to go with the service", func() (bool, error) {
		_, err := kube.CoreV1().Endpoints("demo").Get(ctx, "web", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

// startPod creates a pod bound to a node and then does what the kubelet
// would: reports it running, with an IP, and ready.
func startPod(t *testing.T, ctx context.Context, kube kubernetes.Interface, name, ip string) {
	t.Helper()
	pod, err := kube.CoreV1().Pods("demo").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "web", Image: "nginx",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
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

func waitEndpoints(t *testing.T, ctx context.Context, kube kubernetes.Interface, what string, ready, notReady []string) {
	t.Helper()
	var got [2][]string
	poll(t, ctx, what, func() (bool, error) {
		ep, err := kube.CoreV1().Endpoints("demo").Get(ctx, "web", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		got = [2][]string{}
		for _, s := range ep.Subsets {
			for _, a := range s.Addresses {
				got[0] = append(got[0], a.IP)
			}
			for _, a := range s.NotReadyAddresses {
				got[1] = append(got[1], a.IP)
			}
		}
		sort.Strings(got[0])
		sort.Strings(got[1])
		return slices.Equal(got[0], ready) && slices.Equal(got[1], notReady), nil
	}, func() string { return fmt.Sprintf("last seen ready %v, not ready %v", got[0], got[1]) })
}

func poll(t *testing.T, ctx context.Context, what string, cond func() (bool, error), last ...func() string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return cond()
	})
	if err != nil {
		msg := ""
		for _, l := range last {
			msg = l()
		}
		t.Fatalf("waiting for %s: %v %s", what, err, msg)
	}
}
