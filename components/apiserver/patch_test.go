package apiserver_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1apply "k8s.io/client-go/applyconfigurations/core/v1"
)

func TestPatchTypes(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	pods := cs.CoreV1().Pods(ns)
	pod := newPod("p")
	pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "side", Image: "busybox:1"})
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		pt    types.PatchType
		patch string
		check func(*corev1.Pod) bool
	}{
		{"merge adds a label", types.MergePatchType, `{"metadata":{"labels":{"m":"1"}}}`,
			func(p *corev1.Pod) bool { return p.Labels["m"] == "1" && p.Labels["app"] == "p" }},
		{"merge null deletes", types.MergePatchType, `{"metadata":{"labels":{"m":null}}}`,
			func(p *corev1.Pod) bool { _, ok := p.Labels["m"]; return !ok }},
		{"json patch replaces", types.JSONPatchType, `[{"op":"replace","path":"/spec/containers/0/image","value":"busybox:2"}]`,
			func(p *corev1.Pod) bool { return p.Spec.Containers[0].Image == "busybox:2" }},
		{"strategic merges the containers list by name", types.StrategicMergePatchType,
			`{"spec":{"containers":[{"name":"side","image":"busybox:3"}]}}`,
			func(p *corev1.Pod) bool {
				return len(p.Spec.Containers) == 2 && p.Spec.Containers[1].Image == "busybox:3" && p.Spec.Containers[0].Image == "busybox:2"
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pods.Patch(ctx, "p", tc.pt, []byte(tc.patch), metav1.PatchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(got) {
				t.Fatalf("unexpected result: labels %v containers %+v", got.Labels, got.Spec.Containers)
			}
		})
	}
	if _, err := pods.Patch(ctx, "p", types.JSONPatchType, []byte(`[{"op":"test","path":"/metadata/name","value":"q"}]`), metav1.PatchOptions{}); err == nil {
		t.Fatal("failing json-patch test op: want an error")
	}
	if _, err := pods.Patch(ctx, "missing", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("patch missing: want NotFound, got %v", err)
	}
}

func TestServerSideApplyConflicts(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	cms := cs.CoreV1().ConfigMaps(ns)
	ac := corev1apply.ConfigMap("ssa", ns).WithData(map[string]string{"owned": "by-alice"})
	cm, err := cms.Apply(ctx, ac, metav1.ApplyOptions{FieldManager: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["owned"] != "by-alice" || len(cm.ManagedFields) == 0 || cm.ManagedFields[0].Manager != "alice" {
		t.Fatalf("apply create: data %v managedFields %+v", cm.Data, cm.ManagedFields)
	}
	// Bob changing alice's field is a conflict...
	bob := corev1apply.ConfigMap("ssa", ns).WithData(map[string]string{"owned": "by-bob"})
	if _, err := cms.Apply(ctx, bob, metav1.ApplyOptions{FieldManager: "bob"}); !apierrors.IsConflict(err) {
		t.Fatalf("conflicting apply: want Conflict, got %v", err)
	}
	// ...unless forced, which moves ownership.
	cm, err = cms.Apply(ctx, bob, metav1.ApplyOptions{FieldManager: "bob", Force: true})
	if err != nil || cm.Data["owned"] != "by-bob" {
		t.Fatalf("forced apply: %v %v", cm.Data, err)
	}
	// Alice applying without the field gives it up (it stays, owned by bob).
	cm, err = cms.Apply(ctx, corev1apply.ConfigMap("ssa", ns).WithData(map[string]string{"mine": "x"}), metav1.ApplyOptions{FieldManager: "alice"})
	if err != nil || cm.Data["owned"] != "by-bob" || cm.Data["mine"] != "x" {
		t.Fatalf("alice re-apply: %v %v", cm.Data, err)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	cms := cs.CoreV1().ConfigMaps(ns)
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dry"}}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil || cm.Name != "dry" {
		t.Fatalf("dry-run create: %v %v", cm, err)
	}
	if _, err := cms.Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("dry-run create stored the object: %v", err)
	}
}

// TestConcurrentPatchesAllLand: patches without a resourceVersion retry on
// conflicts inside the server, so concurrent writers never see a 409 and
// none of their changes is lost.
func TestConcurrentPatchesAllLand(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	cms := cs.CoreV1().ConfigMaps(ns)
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "hot"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const writers = 20
	errs := make(chan error, writers)
	for i := 0; i < writers; i++ {
		go func(i int) {
			var err error
			if i%2 == 0 {
				_, err = cms.Patch(ctx, "hot", types.MergePatchType, []byte(fmt.Sprintf(`{"data":{"k%d":"v"}}`, i)), metav1.PatchOptions{})
			} else {
				ac := corev1apply.ConfigMap("hot", ns).WithData(map[string]string{fmt.Sprintf("k%d", i): "v"})
				_, err = cms.Apply(ctx, ac, metav1.ApplyOptions{FieldManager: fmt.Sprintf("writer-%d", i)})
			}
			errs <- err
		}(i)
	}
	for i := 0; i < writers; i++ {
		if err := <-errs; err != nil {
			t.Errorf("concurrent write: %v", err)
		}
	}
	cm, err := cms.Get(ctx, "hot", metav1.GetOptions{})
	if err != nil || len(cm.Data) != writers {
		t.Fatalf("after %d concurrent writers: %d keys (%v)", writers, len(cm.Data), err)
	}
}
