package rootcacert_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/controllers/rootcacert"
)

// TestPublish: every namespace gets kube-root-ca.crt with the CA; an
// edit is undone and a deletion repaired.
func TestPublish(t *testing.T) {
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kube := kubernetes.NewForConfigOrDie(cfg)
	ca := cfg.CAData // the cluster's CA, as the manager would publish it
	if len(ca) == 0 {
		ca = []byte("-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n")
	}

	factory := informers.NewSharedInformerFactory(kube, 0)
	c, err := rootcacert.New(kube, ca, factory.Core().V1().Namespaces(), factory.Core().V1().ConfigMaps())
	clustertest.Must(t, err)
	factory.Start(ctx.Done())
	go c.Run(ctx, 1)

	clustertest.Create(t, ctx, kube.CoreV1().Namespaces(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}})
	cm := waitPublished(t, ctx, kube, string(ca))
	if cm.Annotations[rootcacert.DescriptionAnnotation] != rootcacert.Description {
		t.Errorf("annotations = %v, want the description", cm.Annotations)
	}

	cm.Data["ca.crt"] = "tampered"
	_, err = kube.CoreV1().ConfigMaps("demo").Update(ctx, cm, metav1.UpdateOptions{})
	clustertest.Must(t, err)
	waitPublished(t, ctx, kube, string(ca))

	clustertest.Must(t, kube.CoreV1().ConfigMaps("demo").Delete(ctx, rootcacert.ConfigMapName, metav1.DeleteOptions{}))
	waitPublished(t, ctx, kube, string(ca))
}

func waitPublished(t *testing.T, ctx context.Context, kube kubernetes.Interface, ca string) *corev1.ConfigMap {
	t.Helper()
	var cm *corev1.ConfigMap
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		got, err := kube.CoreV1().ConfigMaps("demo").Get(ctx, rootcacert.ConfigMapName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		cm = got
		return got.Data["ca.crt"] == ca, nil
	})
	if err != nil {
		t.Fatalf("waiting for demo/%s to hold the CA: %v", rootcacert.ConfigMapName, err)
	}
	return cm
}
