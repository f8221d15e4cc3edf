package replicaset_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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

// TestReplicaSet runs the controller against a real API server: it creates
// the pods, replaces a deleted one, adopts a matching orphan instead of
// creating, releases a relabeled pod, and scales down.
func TestReplicaSet(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	kube := kubernetes.NewForConfigOrDie(cfg)
	factory := informers.NewSharedInformerFactory(kube, 0)
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	defer b.Shutdown()
	c, err := replicaset.New(kube, factory.Apps().V1().ReplicaSets().Informer(), factory.Core().V1().Pods(),
		b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "replicaset-controller"}))
	clustertest.Must(t, err)
	factory.Start(ctx.Done())
	go c.Run(ctx, 2)

	const ns = "rs"
	clustertest.Create(t, ctx, kube.CoreV1().Namespaces(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	labels := map[string]string{"app": "web"}
	clustertest.Create(t, ctx, kube.AppsV1().ReplicaSets(ns), &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](3), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}},
	})
	rs, err := kube.AppsV1().ReplicaSets(ns).Get(ctx, "web", metav1.GetOptions{})
	clustertest.Must(t, err)

	owned := func() []corev1.Pod {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		clustertest.Must(t, err)
		var out []corev1.Pod
		for _, p := range pods.Items {
			if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == rs.UID && p.DeletionTimestamp == nil {
				out = append(out, p)
			}
		}
		return out
	}
	waitOwned := func(what string, n int) []corev1.Pod {
		t.Helper()
		var pods []corev1.Pod
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			pods = owned()
			got, err := kube.AppsV1().ReplicaSets(ns).Get(ctx, "web", metav1.GetOptions{})
			return len(pods) == n && got.Status.Replicas == int32(n) && got.Status.ObservedGeneration == got.Generation, err
		})
		if err != nil {
			t.Fatalf("%s: waiting for %d pods: %v (have %d)", what, n, err, len(pods))
		}
		return pods
	}

	pods := waitOwned("create", 3)
	if pods[0].GenerateName != "web-" {
		t.Errorf("pod %s: generateName %q, want web-", pods[0].Name, pods[0].GenerateName)
	}

	clustertest.Must(t, kube.CoreV1().Pods(ns).Delete(ctx, pods[0].Name, metav1.DeleteOptions{}))
	waitOwned("replace a deleted pod", 3)

	// An orphan matching the selector is adopted. It is bound to a node
	// (the others are not), so should the controller adopt it before it
	// sees replicas 4 and scale back to 3, the orphan is the last pod it
	// would pick to delete.
	clustertest.Create(t, ctx, kube.CoreV1().Pods(ns), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "orphan", Labels: labels},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
	})
	_, err = kube.AppsV1().ReplicaSets(ns).Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":4}}`), metav1.PatchOptions{})
	clustertest.Must(t, err)
	pods = waitOwned("adopt", 4)
	adopted := false
	for _, p := range pods {
		adopted = adopted || p.Name == "orphan"
	}
	if !adopted {
		t.Error("the orphan was not adopted")
	}

	// A relabeled pod is released, and replaced.
	_, err = kube.CoreV1().Pods(ns).Patch(ctx, "orphan", types.MergePatchType, []byte(`{"metadata":{"labels":{"app":"debug"}}}`), metav1.PatchOptions{})
	clustertest.Must(t, err)
	waitOwned("release", 4)
	var p *corev1.Pod
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		var err error
		p, err = kube.CoreV1().Pods(ns).Get(ctx, "orphan", metav1.GetOptions{})
		return err == nil && len(p.OwnerReferences) == 0, err
	})
	if err != nil {
		t.Errorf("released pod still has owner refs %+v: %v", p.OwnerReferences, err)
	}

	_, err = kube.AppsV1().ReplicaSets(ns).Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":1}}`), metav1.PatchOptions{})
	clustertest.Must(t, err)
	waitOwned("scale down", 1)
}
