package serviceaccount_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/controllers/serviceaccount"
)

// TestDefaultServiceAccount: a new namespace gets a default
// ServiceAccount, and gets it back after it is deleted.
func TestDefaultServiceAccount(t *testing.T) {
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kube := kubernetes.NewForConfigOrDie(cfg)

	factory := informers.NewSharedInformerFactory(kube, 0)
	c, err := serviceaccount.New(kube, factory.Core().V1().Namespaces(), factory.Core().V1().ServiceAccounts())
	clustertest.Must(t, err)
	factory.Start(ctx.Done())
	go c.Run(ctx, 1)

	clustertest.Create(t, ctx, kube.CoreV1().Namespaces(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}})
	first := waitDefault(t, ctx, kube)

	clustertest.Must(t, kube.CoreV1().ServiceAccounts("demo").Delete(ctx, "default", metav1.DeleteOptions{}))
	if again := waitDefault(t, ctx, kube); again.UID == first.UID {
		t.Errorf("default not re-created (same UID %s)", first.UID)
	}
}

func waitDefault(t *testing.T, ctx context.Context, kube kubernetes.Interface) *corev1.ServiceAccount {
	t.Helper()
	var sa *corev1.ServiceAccount
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		got, err := kube.CoreV1().ServiceAccounts("demo").Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		sa = got
		return err == nil && got.DeletionTimestamp == nil, err
	})
	if err != nil {
		t.Fatalf("waiting for demo/default: %v", err)
	}
	return sa
}
