package registry

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
)

func TestSpecEqualIgnoresMetadataAndStatus(t *testing.T) {
	a := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1)}}
	b := a.DeepCopy()
	b.Labels = map[string]string{"x": "y"}
	b.Status.Replicas = 5
	if !specEqual(a, b) {
		t.Error("metadata and status changes must not count as spec changes")
	}
	b.Spec.Replicas = ptr.To[int32](2)
	if specEqual(a, b) {
		t.Error("a replicas change is a spec change")
	}
	ua := &unstructured.Unstructured{Object: map[string]interface{}{"spec": map[string]interface{}{"x": int64(1)}, "status": "a"}}
	ub := ua.DeepCopy()
	ub.Object["status"] = "b"
	ub.SetLabels(map[string]string{"l": "v"})
	if !specEqual(ua, ub) {
		t.Error("custom resources: status and metadata are not spec")
	}
	ub.Object["spec"] = map[string]interface{}{"x": int64(2)}
	if specEqual(ua, ub) {
		t.Error("custom resources: a spec change must be seen")
	}
}

func TestCopyAndClearStatus(t *testing.T) {
	src := &appsv1.Deployment{Status: appsv1.DeploymentStatus{Replicas: 3}}
	dst := &appsv1.Deployment{}
	copyStatus(dst, src)
	if dst.Status.Replicas != 3 {
		t.Fatalf("copyStatus: %+v", dst.Status)
	}
	clearStatus(dst)
	if dst.Status.Replicas != 0 {
		t.Fatalf("clearStatus: %+v", dst.Status)
	}
}

func TestQOSClass(t *testing.T) {
	res := func(req, lim string) corev1.ResourceRequirements {
		r := corev1.ResourceRequirements{}
		if req != "" {
			r.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(req), corev1.ResourceMemory: resource.MustParse("64Mi")}
		}
		if lim != "" {
			r.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(lim), corev1.ResourceMemory: resource.MustParse("64Mi")}
		}
		return r
	}
	tests := []struct {
		name string
		r    corev1.ResourceRequirements
		want corev1.PodQOSClass
	}{
		{"nothing", res("", ""), corev1.PodQOSBestEffort},
		{"limits equal requests", res("100m", "100m"), corev1.PodQOSGuaranteed},
		{"limits only", res("", "100m"), corev1.PodQOSGuaranteed},
		{"requests below limits", res("50m", "100m"), corev1.PodQOSBurstable},
		{"requests only", res("50m", ""), corev1.PodQOSBurstable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: tc.r}}}}
			if got := QOSClass(pod); got != tc.want {
				t.Fatalf("QOSClass = %s, want %s", got, tc.want)
			}
		})
	}
}
