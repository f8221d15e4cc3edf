package controllers_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/controllers"
)

// TestRun starts the manager with every controller, the way `kubelab up`
// does, and checks the two work side by side: an orphaned ReplicaSet is
// collected, and a namespace is emptied and deleted.
func TestRun(t *testing.T) {
	cp, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kube := kubernetes.NewForConfigOrDie(cfg)

	runCtx, stop := context.WithCancel(ctx)
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- controllers.Run(runCtx, controllers.Options{Kubeconfig: cp.AdminKubeconfig, Started: func() { close(started) }})
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("Run returned before starting: %v", err)
	case <-ctx.Done():
		t.Fatal("controllers did not start")
	}

	// A ReplicaSet whose owner never existed is garbage.
	clustertest.Create(t, ctx, kube.CoreV1().Namespaces(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}})
	labels := map[string]string{"app": "web"}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "00000000-0000-0000-0000-000000000000"}}},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}},
	}
	clustertest.Create(t, ctx, kube.AppsV1().ReplicaSets("demo"), rs)
	waitNotFound(t, ctx, "the ownerless replicaset", func() error {
		_, err := kube.AppsV1().ReplicaSets("demo").Get(ctx, "web-1", metav1.GetOptions{})
		return err
	})

	clustertest.Create(t, ctx, kube.CoreV1().ConfigMaps("demo"), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}})
	clustertest.Must(t, kube.CoreV1().Namespaces().Delete(ctx, "demo", metav1.DeleteOptions{}))
	waitNotFound(t, ctx, "the namespace", func() error {
		_, err := kube.CoreV1().Namespaces().Get(ctx, "demo", metav1.GetOptions{})
		return err
	})

	stop()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func waitNotFound(t *testing.T, ctx context.Context, what string, get func() error) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		err := get()
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		t.Fatalf("waiting for %s to be deleted: %v", what, err)
	}
}
