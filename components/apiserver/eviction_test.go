package apiserver_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// TestEvictionPDB drives POST pods/x/eviction (what kubectl drain calls)
// through the PodDisruptionBudget rules of upstream's EvictionREST. The
// PDB's status is written by hand here, as the disruption controller would.
func TestEvictionPDB(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	pods := cs.CoreV1().Pods(ns)
	evict := func(name string) error {
		return pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}})
	}
	running := func(name string, ready bool) {
		t.Helper()
		p := newPod(name)
		p.Labels = map[string]string{"app": "web"}
		p.Spec.NodeName = "node-1" // bound: a delete is graceful, so we can look at the pod afterwards
		p, err := pods.Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: status})
		if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	deleting := func(name string) *corev1.Pod {
		t.Helper()
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil || p.DeletionTimestamp == nil {
			t.Fatalf("pod %s should be terminating: %v", name, err)
		}
		return p
	}

	// No PDB: an eviction is a graceful delete, marked DisruptionTarget.
	running("a", true)
	running("b", true)
	running("c", true)
	if err := evict("a"); err != nil {
		t.Fatalf("evict without a PDB: %v", err)
	}
	a := deleting("a")
	if !hasCondition(a, corev1.DisruptionTarget, "EvictionByEvictionAPI") {
		t.Errorf("evicted pod lacks the DisruptionTarget condition: %+v", a.Status.Conditions)
	}

	pdbs := cs.PolicyV1().PodDisruptionBudgets(ns)
	pdb, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Not yet observed by the controller: 429, "still being processed".
	if err := evict("b"); !isBudgetRefusal(err, "still being processed") {
		t.Fatalf("evict under an unsynced PDB: want 429 DisruptionBudget, got %v", err)
	}

	pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: 1,
		CurrentHealthy: 2, DesiredHealthy: 1, ExpectedPods: 2}
	if _, err := pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A second PDB selecting the same pod: upstream refuses with a 500.
	dup, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "dup"},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = evict("b")
	if status, ok := err.(apierrors.APIStatus); !ok || status.Status().Code != 500 || !strings.Contains(err.Error(), "more than one PodDisruptionBudget") {
		t.Fatalf("evict under two PDBs: want 500, got %v", err)
	}
	if err := pdbs.Delete(ctx, dup.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	// One disruption allowed: it is spent and the pod recorded.
	if err := evict("b"); err != nil {
		t.Fatalf("evict with a disruption allowed: %v", err)
	}
	deleting("b")
	got, err := pdbs.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.DisruptionsAllowed != 0 {
		t.Errorf("disruptionsAllowed %d after the eviction, want 0", got.Status.DisruptionsAllowed)
	}
	if _, ok := got.Status.DisruptedPods["b"]; !ok {
		t.Errorf("disruptedPods %v lacks b", got.Status.DisruptedPods)
	}

	// None left: 429 with the DisruptionBudget cause, and the pod stays.
	if err := evict("c"); !isBudgetRefusal(err, "needs 1 healthy pods") {
		t.Fatalf("evict with no disruption allowed: want 429 DisruptionBudget, got %v", err)
	}
	if p, err := pods.Get(ctx, "c", metav1.GetOptions{}); err != nil || p.DeletionTimestamp != nil {
		t.Fatalf("refused eviction deleted the pod: %v", err)
	}

	// Not Ready while the application is healthy: it may go, and no
	// disruption is spent. A Pending pod is never checked.
	running("unready", false)
	if err := evict("unready"); err != nil {
		t.Fatalf("evict an unready pod under a healthy PDB: %v", err)
	}
	deleting("unready")
	pending := newPod("pending")
	pending.Labels = map[string]string{"app": "web"}
	if _, err := pods.Create(ctx, pending, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := evict("pending"); err != nil {
		t.Fatalf("evict a pending pod: %v", err)
	}
	if _, err := pods.Get(ctx, "pending", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pending pod (unbound, deleted at once) still there: %v", err)
	}
	checkAllowed(t, ctx, cs, ns, 0)

	// An unready pod while the application is short of healthy pods: the
	// default policy (IfHealthyBudget) protects it, AlwaysAllow lets it go.
	running("sick", false)
	got, err = pdbs.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got.Status.CurrentHealthy = 0
	if got, err = pdbs.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := evict("sick"); !isBudgetRefusal(err, "needs 1 healthy pods and has 0") {
		t.Fatalf("evict an unready pod under an unhealthy PDB: want 429, got %v", err)
	}
	got.Spec.UnhealthyPodEvictionPolicy = ptr.To(policyv1.AlwaysAllow)
	if _, err := pdbs.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := evict("sick"); err != nil {
		t.Fatalf("evict an unready pod with AlwaysAllow: %v", err)
	}
	deleting("sick")
}

func checkAllowed(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns string, want int32) {
	t.Helper()
	got, err := cs.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.DisruptionsAllowed != want {
		t.Errorf("disruptionsAllowed %d, want %d", got.Status.DisruptionsAllowed, want)
	}
}

func isBudgetRefusal(err error, cause string) bool {
	status, ok := err.(apierrors.APIStatus)
	if !ok || !apierrors.IsTooManyRequests(err) || status.Status().Details == nil {
		return false
	}
	if status.Status().Message != "Cannot evict pod as it would violate the pod's disruption budget." {
		return false
	}
	for _, c := range status.Status().Details.Causes {
		if c.Type == policyv1.DisruptionBudgetCause && strings.Contains(c.Message, cause) {
			return true
		}
	}
	return false
}

func hasCondition(p *corev1.Pod, t corev1.PodConditionType, reason string) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue && c.Reason == reason {
			return true
		}
	}
	return false
}
