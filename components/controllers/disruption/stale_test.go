package disruption

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSyncStale(t *testing.T) {
	marked := func(reason string, ago time.Duration) podOpt {
		return func(p *corev1.Pod) {
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.DisruptionTarget,
				Status: corev1.ConditionTrue, Reason: reason, LastTransitionTime: metav1.NewTime(now.Add(-ago))})
		}
	}
	tests := []struct {
		name      string
		pod       *corev1.Pod
		wantReset bool
	}{
		{name: "evicted 3m ago and still there", pod: pod("a", marked("EvictionByEvictionAPI", 3*time.Minute)), wantReset: true},
		{name: "evicted just now", pod: pod("a", marked("EvictionByEvictionAPI", time.Second))},
		{name: "being deleted", pod: pod("a", marked("EvictionByEvictionAPI", 3*time.Minute), deleting)},
		{name: "set by the kubelet", pod: pod("a", marked(corev1.PodReasonTerminationByKubelet, 3*time.Minute))},
		{name: "no condition", pod: pod("a")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, kube, _ := fixture(t, tt.pod)
			if err := c.syncStale(context.Background(), "default/a"); err != nil {
				t.Fatal(err)
			}
			got, err := kube.CoreV1().Pods("default").Get(context.Background(), "a", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cond := podCondition(got, corev1.DisruptionTarget)
			reset := cond != nil && cond.Status == corev1.ConditionFalse
			if reset != tt.wantReset {
				t.Errorf("condition %+v, want reset %v", cond, tt.wantReset)
			}
		})
	}
}
