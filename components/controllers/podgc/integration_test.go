package podgc_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/controllers/podgc"
)

// TestOrphanedPod: a pod bound to a node that does not exist is marked
// Failed with DisruptionTarget/DeletionByPodGC and removed for good (grace
// period 0) once the quarantine is over; a pod on a node that exists stays.
func TestOrphanedPod(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	kube := kubernetes.NewForConfigOrDie(cfg)

	clustertest.Create(t, ctx, kube.CoreV1().Nodes(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "real"}})
	for name, node := range map[string]string{"orphan": "ghost", "kept": "real"} {
		clustertest.Create(t, ctx, kube.CoreV1().Pods("default"), &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		})
	}
	w, err := kube.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=orphan"})
	clustertest.Must(t, err)
	defer w.Stop()

	factory := informers.NewSharedInformerFactory(kube, 0)
	gc := podgc.New(kube, factory.Core().V1().Pods(), factory.Core().V1().Nodes(),
		podgc.Options{Period: 200 * time.Millisecond, Quarantine: time.Second})
	factory.Start(ctx.Done())
	start := time.Now()
	go gc.Run(ctx)

	var failed bool
	for ev := range w.ResultChan() {
		pod, _ := ev.Object.(*corev1.Pod)
		if ev.Type == watch.Modified && pod.Status.Phase == corev1.PodFailed {
			for _, c := range pod.Status.Conditions {
				if c.Type == corev1.DisruptionTarget && c.Reason == "DeletionByPodGC" && c.Message == "PodGC: node no longer exists" {
					failed = true
				}
			}
		}
		if ev.Type == watch.Deleted {
			break
		}
	}
	if !failed {
		t.Error("the orphan was not marked Failed with DisruptionTarget before deletion")
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("deleted after %s, before the 1s quarantine", took)
	}
	if _, err := kube.CoreV1().Pods("default").Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Errorf("pod on an existing node: %v", err)
	}
}
