package kubelet

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubelab/kubelab/components/kubelet/runtime"
)

func TestContainerResources(t *testing.T) {
	rl := func(kv ...string) corev1.ResourceList {
		out := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return out
	}
	for _, tt := range []struct {
		name string
		res  corev1.ResourceRequirements
		want runtime.Resources
	}{
		{"best effort", corev1.ResourceRequirements{}, runtime.Resources{CPUShares: 2}},
		{"requests only", corev1.ResourceRequirements{Requests: rl("cpu", "250m", "memory", "64Mi")},
			runtime.Resources{CPUShares: 256}},
		{"limits", corev1.ResourceRequirements{Requests: rl("cpu", "500m"), Limits: rl("cpu", "1", "memory", "128Mi")},
			runtime.Resources{CPUShares: 512, CPUQuota: 100000, CPUPeriod: 100000, MemoryLimit: 128 << 20}},
		{"limit only means request = limit", corev1.ResourceRequirements{Limits: rl("cpu", "200m")},
			runtime.Resources{CPUShares: 204, CPUQuota: 20000, CPUPeriod: 100000}},
		{"tiny cpu limit floors at 1ms", corev1.ResourceRequirements{Limits: rl("cpu", "1m")},
			runtime.Resources{CPUShares: 2, CPUQuota: 1000, CPUPeriod: 100000}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := containerResources(&corev1.Container{Resources: tt.res}); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPodResources(t *testing.T) {
	limited := func(mem string) corev1.Container {
		return corev1.Container{Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse(mem), corev1.ResourceCPU: resource.MustParse("100m")}}}
	}
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{limited("64Mi"), limited("32Mi")}}}
	if got := podResources(pod); got.MemoryLimit != 96<<20 || got.CPUQuota != 20000 {
		t.Errorf("every container limited: got %+v, want 96Mi and 20ms/100ms", got)
	}
	pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{})
	// 102+102 shares for the limited ones (request = limit = 100m), 2 for
	// the best-effort one.
	if got := podResources(pod); got != (runtime.Resources{CPUShares: 206}) {
		t.Errorf("one unlimited container: got %+v, want no pod limit, shares 206", got)
	}
}

func TestShouldRestart(t *testing.T) {
	for _, tt := range []struct {
		policy corev1.RestartPolicy
		code   int
		want   bool
	}{
		{corev1.RestartPolicyAlways, 0, true},
		{corev1.RestartPolicyAlways, 1, true},
		{corev1.RestartPolicyOnFailure, 0, false},
		{corev1.RestartPolicyOnFailure, 137, true},
		{corev1.RestartPolicyNever, 1, false},
	} {
		if got := shouldRestart(tt.policy, tt.code); got != tt.want {
			t.Errorf("shouldRestart(%s, %d) = %v, want %v", tt.policy, tt.code, got, tt.want)
		}
	}
}

func TestLatestAttempts(t *testing.T) {
	got := latestAttempts([]runtime.ContainerStatus{
		{Name: "a", Attempt: 0}, {Name: "a", Attempt: 2}, {Name: "a", Attempt: 1}, {Name: "b", Attempt: 0},
	})
	if got["a"].Attempt != 2 || got["b"].Attempt != 0 || len(got) != 2 {
		t.Errorf("got %+v", got)
	}
}

func TestNameOf(t *testing.T) {
	for id, want := range map[string]string{
		"0b6f_web_3":          "web",
		"0b6f_my_sidecar_0":   "my_sidecar",
		"nonsense":            "",
		"0b6f_web_notanumber": "",
	} {
		if got := nameOf(id); got != want {
			t.Errorf("nameOf(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestAllocatable(t *testing.T) {
	capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi")}
	got := allocatable(capacity, map[string]string{"cpu": "100m", "memory": "2Gi"}, map[string]string{"cpu": "400m"})
	if cpu := got[corev1.ResourceCPU]; cpu.MilliValue() != 1500 {
		t.Errorf("cpu = %s, want 1500m", cpu.String())
	}
	if mem := got[corev1.ResourceMemory]; mem.Value() != 0 {
		t.Errorf("memory = %s, want 0 (never negative)", mem.String())
	}
}
