package disruption_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/controllers/disruption"
)

// TestDisruption runs the controller against a real API server, together
// with the API server's eviction checks: a maxUnavailable 50% budget over a
// ReplicaSet of 4 (3 pods ready) allows one eviction, the second is refused,
// and the controller's recount agrees.
func TestDisruption(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	kube := kubernetes.NewForConfigOrDie(cfg)
	f := informers.NewSharedInformerFactory(kube, 0)
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	defer b.Shutdown()
	c, err := disruption.New(kube, disruption.Informers{
		PDBs: f.Policy().V1().PodDisruptionBudgets(), Pods: f.Core().V1().Pods(),
		ReplicationControllers: f.Core().V1().ReplicationControllers(), ReplicaSets: f.Apps().V1().ReplicaSets(),
		Deployments: f.Apps().V1().Deployments(), StatefulSets: f.Apps().V1().StatefulSets(),
	}, b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "controllermanager"}))
	clustertest.Must(t, err)
	f.Start(ctx.Done())
	go c.Run(ctx, 1)

	const ns = "default"
	labels := map[string]string{"app": "web"}
	clustertest.Create(t, ctx, kube.AppsV1().ReplicaSets(ns), &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](4), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}},
	})
	rs, err := kube.AppsV1().ReplicaSets(ns).Get(ctx, "web", metav1.GetOptions{})
	clustertest.Must(t, err)
	for i := range 3 {
		p, err := kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Labels: labels,
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}},
			Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
		}, metav1.CreateOptions{})
		clustertest.Must(t, err)
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		_, err = kube.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		clustertest.Must(t, err)
	}
	clustertest.Create(t, ctx, kube.PolicyV1().PodDisruptionBudgets(ns), &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromString("50%")),
			Selector: &metav1.LabelSelector{MatchLabels: labels}},
	})

	waitStatus := func(what string, healthy, desired, expected, allowed int32) {
		t.Helper()
		var got policyv1.PodDisruptionBudgetStatus
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			pdb, err := kube.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			got = pdb.Status
			return got.ObservedGeneration == pdb.Generation && got.CurrentHealthy == healthy && got.DesiredHealthy == desired &&
				got.ExpectedPods == expected && got.DisruptionsAllowed == allowed && len(got.DisruptedPods) == 0 &&
				apimeta.IsStatusConditionTrue(got.Conditions, policyv1.DisruptionAllowedCondition) == (allowed > 0), nil
		})
		if err != nil {
			t.Fatalf("%s: want healthy/desired/expected/allowed %d/%d/%d/%d, have %+v: %v", what, healthy, desired, expected, allowed, got, err)
		}
	}
	waitStatus("initial", 3, 2, 4, 1)

	evict := func(name string) error {
		return kube.CoreV1().Pods(ns).EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}})
	}
	clustertest.Must(t, evict("web-0"))
	if err := evict("web-1"); !apierrors.IsTooManyRequests(err) {
		t.Fatalf("second eviction: want 429, got %v", err)
	}
	// web-0 is terminating (bound pods delete gracefully): not healthy, and
	// no longer needed in disruptedPods.
	waitStatus("after the eviction", 2, 2, 4, 0)
}
