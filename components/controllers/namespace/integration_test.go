package namespace_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/controllers/namespace"
)

// TestDeleteNamespace runs the controller against a real API server:
// deleting a namespace with content makes it Terminating; the controller
// deletes the content, waits for an object a finalizer holds (saying so in
// the namespace's conditions), and finalizes the namespace once it is empty.
func TestDeleteNamespace(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kube, dyn := startCluster(t, ctx)

	factory := informers.NewSharedInformerFactory(kube, 0)
	c, err := namespace.New(kube, dyn, factory.Core().V1().Namespaces())
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	go c.Run(ctx, 2)

	// A namespace with a ConfigMap, a Deployment, and a ConfigMap that a
	// finalizer of ours holds until we let it go.
	clustertest.Create(t, ctx, kube.CoreV1().Namespaces(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}})
	clustertest.Create(t, ctx, kube.CoreV1().ConfigMaps("demo"), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"a": "b"}})
	clustertest.Create(t, ctx, kube.CoreV1().ConfigMaps("demo"), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{"test.kubelab.io/hold"}}})
	clustertest.Create(t, ctx, kube.AppsV1().Deployments("demo"), deployment("web"))

	clustertest.Must(t, kube.CoreV1().Namespaces().Delete(ctx, "demo", metav1.DeleteOptions{}))

	// The held ConfigMap keeps the namespace, and the conditions say why.
	waitFor(t, ctx, "the namespace to report the held ConfigMap", func() (bool, error) {
		ns, err := kube.CoreV1().Namespaces().Get(ctx, "demo", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range ns.Status.Conditions {
			if cond.Type == corev1.NamespaceFinalizersRemaining && cond.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	for _, name := range []string{"settings", "held"} {
		cm, err := kube.CoreV1().ConfigMaps("demo").Get(ctx, name, metav1.GetOptions{})
		switch {
		case name == "settings" && !apierrors.IsNotFound(err):
			t.Errorf("configmap settings: got %v, want it deleted", err)
		case name == "held" && (err != nil || cm.DeletionTimestamp == nil):
			t.Errorf("configmap held: got err %v, want it terminating", err)
		}
	}
	if _, err := kube.AppsV1().Deployments("demo").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deployment web: got %v, want it deleted", err)
	}

	// Let the ConfigMap go: the namespace follows.
	_, err = kube.CoreV1().ConfigMaps("demo").Patch(ctx, "held", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	clustertest.Must(t, err)
	waitFor(t, ctx, "the namespace to disappear", func() (bool, error) {
		_, err := kube.CoreV1().Namespaces().Get(ctx, "demo", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

func startCluster(t *testing.T, ctx context.Context) (kubernetes.Interface, dynamic.Interface) {
	t.Helper()
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	return kubernetes.NewForConfigOrDie(cfg), dynamic.NewForConfigOrDie(cfg)
}

func deployment(name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return cond()
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
