// Package clustertest starts throwaway control planes for integration tests:
// the same components/cluster code `kubelab up` runs, on free ports, in a
// temporary directory, stopped when the test ends.
package clustertest

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubelab/kubelab/components/cluster"
)

// Start brings up embedded etcd (or the etcd at o.EtcdServers) and a
// kube-apiserver for t, and returns it with an admin client config whose
// rate limits are high enough not to slow the test down (client-go's
// default is 5 requests/s). It skips the test under -short.
func Start(t testing.TB, o cluster.ControlPlaneOptions) (*cluster.ControlPlane, *rest.Config) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: starts etcd and kube-apiserver (run without -short)")
	}
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Port == 0 {
		o.Port = -1
	}
	if o.EtcdPort == 0 {
		o.EtcdPort = -1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cp, err := cluster.StartControlPlane(ctx, o)
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(cp.Stop)
	cfg, err := clientcmd.BuildConfigFromFlags("", cp.AdminKubeconfig)
	if err != nil {
		t.Fatalf("load %s: %v", cp.AdminKubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	return cp, cfg
}

// Create calls Create on any typed client and fails the test on error:
// `clustertest.Create(t, ctx, kube.CoreV1().ConfigMaps(ns), cm)`.
func Create[T any](t testing.TB, ctx context.Context, client interface {
	Create(context.Context, T, metav1.CreateOptions) (T, error)
}, obj T) {
	t.Helper()
	if _, err := client.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Must fails the test on a non-nil error.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
