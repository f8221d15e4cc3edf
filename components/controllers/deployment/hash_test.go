package deployment

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func nginxTemplate() *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "nginx"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "nginx", Image: "nginx:1.14.2", Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
		}}},
	}
}

// TestComputeHash pins the hash of one template: the value depends on
// k8s.io/api's PodTemplateSpec (every field appears in the dump), so a
// change here after a dependency bump is expected, and would change
// ReplicaSet names exactly as upstream's would.
func TestComputeHash(t *testing.T) {
	const want = "84bdb6d5d9"
	got := ComputeHash(nginxTemplate(), nil)
	if got != want {
		t.Errorf("ComputeHash = %q, want %q", got, want)
	}
	for _, r := range got {
		if !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", r) {
			t.Errorf("hash %q has %q, outside rand.SafeEncodeString's alphabet", got, r)
		}
	}
	seen := map[string]*int32{}
	for _, cc := range []*int32{nil, ptr.To[int32](0), ptr.To[int32](1), ptr.To[int32](2)} {
		h := ComputeHash(nginxTemplate(), cc)
		if prev, dup := seen[h]; dup {
			t.Errorf("collisionCount %v and %v give the same hash %s", prev, cc, h)
		}
		seen[h] = cc
	}
	other := nginxTemplate()
	other.Spec.Containers[0].Image = "nginx:1.16.1"
	if ComputeHash(other, nil) == got {
		t.Error("a different image gives the same hash")
	}
}
