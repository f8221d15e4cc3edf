package replicaset_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/controllers/replicaset"
)

// TestReplicationController runs the docs' replication.yaml (an nginx RC
// with 3 replicas and no explicit selector: the API server defaults it from
// the template) against a real API server: 3 pods owned by the RC, and a
// deleted pod replaced.
func TestReplicationController(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	kube := kubernetes.NewForConfigOrDie(cfg)
	factory := informers.NewSharedInformerFactory(kube, 0)
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	defer b.Shutdown()
	c, err := replicaset.NewReplicationController(kube, factory.Core().V1().ReplicationControllers(), factory.Core().V1().Pods(),
		b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "replication-controller"}))
	clustertest.Must(t, err)
	factory.Start(ctx.Done())
	go c.Run(ctx, 2)

	const ns = "default"
	labels := map[string]string{"app": "nginx"}
	clustertest.Create(t, ctx, kube.CoreV1().ReplicationControllers(ns), &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx"},
		Spec: corev1.ReplicationControllerSpec{Replicas: ptr.To[int32](3),
			Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx",
					Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}}}},
	})
	rc, err := kube.CoreV1().ReplicationControllers(ns).Get(ctx, "nginx", metav1.GetOptions{})
	clustertest.Must(t, err)

	waitOwned := func(what string, n int) []corev1.Pod {
		t.Helper()
		var owned []corev1.Pod
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			owned = nil
			for _, p := range pods.Items {
				ref := metav1.GetControllerOf(&p)
				if ref != nil && ref.UID == rc.UID && ref.Kind == "ReplicationController" && p.DeletionTimestamp == nil {
					owned = append(owned, p)
				}
			}
			got, err := kube.CoreV1().ReplicationControllers(ns).Get(ctx, "nginx", metav1.GetOptions{})
			return len(owned) == n && got.Status.Replicas == int32(n) && got.Status.ObservedGeneration == got.Generation, err
		})
		if err != nil {
			t.Fatalf("%s: waiting for %d pods: %v (have %d)", what, n, err, len(owned))
		}
		return owned
	}
	pods := waitOwned("create", 3)
	clustertest.Must(t, kube.CoreV1().Pods(ns).Delete(ctx, pods[0].Name, metav1.DeleteOptions{}))
	waitOwned("replace a deleted pod", 3)

	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		evs, err := kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		for _, e := range evs.Items {
			if e.Reason == "SuccessfulCreate" && e.InvolvedObject.Kind == "ReplicationController" && e.InvolvedObject.Name == "nginx" {
				return true, nil
			}
		}
		return false, err
	})
	if err != nil {
		t.Errorf("no SuccessfulCreate event on the ReplicationController: %v", err)
	}
}
