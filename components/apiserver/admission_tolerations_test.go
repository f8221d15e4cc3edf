package apiserver

import (
	"slices"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestDefaultTolerationSeconds(t *testing.T) {
	five := int64(5)
	tests := []struct {
		name string
		have []corev1.Toleration
		want []string // key:effect:seconds of the tolerations after admission
	}{
		{"none: both added", nil, []string{"node.kubernetes.io/not-ready:NoExecute:300", "node.kubernetes.io/unreachable:NoExecute:60"}},
		{"own not-ready toleration kept, unreachable added",
			[]corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &five}},
			[]string{"node.kubernetes.io/not-ready:NoExecute:5", "node.kubernetes.io/unreachable:NoExecute:60"}},
		{"a toleration of every effect counts", []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists}},
			[]string{"node.kubernetes.io/unreachable::-", "node.kubernetes.io/not-ready:NoExecute:300"}},
		{"tolerating everything adds nothing", []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, []string{"::-"}},
		{"a NoSchedule toleration does not count", []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			[]string{"node.kubernetes.io/not-ready:NoSchedule:-", "node.kubernetes.io/not-ready:NoExecute:300", "node.kubernetes.io/unreachable:NoExecute:60"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: tt.have}}
			defaultTolerationSeconds(300, 60)(pod)
			var got []string
			for _, tol := range pod.Spec.Tolerations {
				s := "-"
				if tol.TolerationSeconds != nil {
					s = strconv.FormatInt(*tol.TolerationSeconds, 10)
				}
				got = append(got, tol.Key+":"+string(tol.Effect)+":"+s)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("tolerations = %v, want %v", got, tt.want)
			}
		})
	}
}
