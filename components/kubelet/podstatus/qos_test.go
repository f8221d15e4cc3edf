package podstatus

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func ctr(name string, req, lim corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}
}

func TestQOSClass(t *testing.T) {
	tests := []struct {
		name string
		spec corev1.PodSpec
		want corev1.PodQOSClass
	}{
		{"nothing", corev1.PodSpec{Containers: []corev1.Container{ctr("a", nil, nil)}}, corev1.PodQOSBestEffort},
		{"only ephemeral storage", corev1.PodSpec{Containers: []corev1.Container{ctr("a", rl("ephemeral-storage", "1Gi"), nil)}}, corev1.PodQOSBestEffort},
		{"zero request", corev1.PodSpec{Containers: []corev1.Container{ctr("a", rl("cpu", "0"), nil)}}, corev1.PodQOSBestEffort},
		{"equal", corev1.PodSpec{Containers: []corev1.Container{ctr("a", rl("cpu", "100m", "memory", "64Mi"), rl("cpu", "0.1", "memory", "64Mi"))}}, corev1.PodQOSGuaranteed},
		{"limits only", corev1.PodSpec{Containers: []corev1.Container{ctr("a", nil, rl("cpu", "1", "memory", "1Gi"))}}, corev1.PodQOSBurstable},
		{"request below limit", corev1.PodSpec{Containers: []corev1.Container{ctr("a", rl("cpu", "100m", "memory", "1Gi"), rl("cpu", "200m", "memory", "1Gi"))}}, corev1.PodQOSBurstable},
		{"memory limit missing", corev1.PodSpec{Containers: []corev1.Container{ctr("a", rl("cpu", "1"), rl("cpu", "1"))}}, corev1.PodQOSBurstable},
		{"one of two unlimited", corev1.PodSpec{Containers: []corev1.Container{
			ctr("a", rl("cpu", "1", "memory", "1Gi"), rl("cpu", "1", "memory", "1Gi")), ctr("b", nil, nil)}}, corev1.PodQOSBurstable},
		{"init container counts", corev1.PodSpec{
			Containers:     []corev1.Container{ctr("a", rl("cpu", "1", "memory", "1Gi"), rl("cpu", "1", "memory", "1Gi"))},
			InitContainers: []corev1.Container{ctr("i", rl("cpu", "1"), nil)}}, corev1.PodQOSBurstable},
		{"pod-level resources", corev1.PodSpec{
			Resources:  &corev1.ResourceRequirements{Requests: rl("cpu", "1", "memory", "1Gi"), Limits: rl("cpu", "1", "memory", "1Gi")},
			Containers: []corev1.Container{ctr("a", nil, nil)}}, corev1.PodQOSGuaranteed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := QOSClass(&corev1.Pod{Spec: tt.spec}); got != tt.want {
				t.Errorf("QOSClass = %s, want %s", got, tt.want)
			}
		})
	}
}
