package apiserver_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDefaultTolerationSecondsAdmission: a created pod tolerates the
// not-ready and unreachable NoExecute taints for 300s, and a pod that
// already tolerates one of them keeps its own toleration, not a second.
func TestDefaultTolerationSecondsAdmission(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	plain, err := cs.CoreV1().Pods(ns).Create(ctx, newPod("plain"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{corev1.TaintNodeNotReady: 300, corev1.TaintNodeUnreachable: 300}
	if got := noExecuteTolerations(plain); len(got) != 2 || got[corev1.TaintNodeNotReady] != want[corev1.TaintNodeNotReady] || got[corev1.TaintNodeUnreachable] != want[corev1.TaintNodeUnreachable] {
		t.Errorf("tolerations = %v, want %v", plain.Spec.Tolerations, want)
	}
	for _, tol := range plain.Spec.Tolerations {
		if tol.Operator != corev1.TolerationOpExists {
			t.Errorf("toleration %+v: want operator Exists", tol)
		}
	}

	own := newPod("own")
	ten := int64(10)
	own.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &ten}}
	created, err := cs.CoreV1().Pods(ns).Create(ctx, own, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(created.Spec.Tolerations) != 2 {
		t.Fatalf("tolerations = %+v, want own unreachable + default not-ready", created.Spec.Tolerations)
	}
	if got := noExecuteTolerations(created); got[corev1.TaintNodeUnreachable] != 10 || got[corev1.TaintNodeNotReady] != 300 {
		t.Errorf("tolerations = %v, want unreachable 10s (own), not-ready 300s", got)
	}

	// Updates do not run admission again: a pod's tolerations stay what
	// they were at creation plus what the client adds.
	created.Labels["touched"] = "yes"
	updated, err := cs.CoreV1().Pods(ns).Update(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(updated.Spec.Tolerations) != 2 {
		t.Errorf("tolerations after update = %+v", updated.Spec.Tolerations)
	}
}

func noExecuteTolerations(pod *corev1.Pod) map[string]int64 {
	out := map[string]int64{}
	for _, tol := range pod.Spec.Tolerations {
		if tol.Effect == corev1.TaintEffectNoExecute && tol.TolerationSeconds != nil {
			out[tol.Key] = *tol.TolerationSeconds
		}
	}
	return out
}
