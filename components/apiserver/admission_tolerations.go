package apiserver

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// defaultTolerationSeconds is upstream's DefaultTolerationSeconds admission
// plugin: every new pod tolerates the node lifecycle controller's
// not-ready and unreachable NoExecute taints for a while (300s unless
// --default-not-ready-toleration-seconds / --default-unreachable-toleration-seconds
// say otherwise). That is what makes a dead node's pods go after five
// minutes instead of at once: a network blip of a minute costs nothing.
// A pod that says something about these taints itself (a toleration for
// the key, or for every key, with the NoExecute or any effect) keeps its
// own word: DaemonSet pods, for instance, tolerate them for ever.
//
// Upstream runs it in the mutating admission phase, after decoding and
// before validation; here it is the pods' PrepareCreate hook, which the
// registry runs at the same point of a create (never on updates).
func defaultTolerationSeconds(notReady, unreachable int64) func(runtime.Object) {
	return func(obj runtime.Object) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		for _, d := range []struct {
			key     string
			seconds int64
		}{{corev1.TaintNodeNotReady, notReady}, {corev1.TaintNodeUnreachable, unreachable}} {
			if toleratesNoExecute(pod.Spec.Tolerations, d.key) {
				continue
			}
			seconds := d.seconds
			pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
				Key: d.key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds,
			})
		}
	}
}

// toleratesNoExecute: does any toleration speak for key's NoExecute taint?
// (upstream checks only key and effect, not operator or value).
func toleratesNoExecute(list []corev1.Toleration, key string) bool {
	for _, t := range list {
		if (t.Key == key || t.Key == "") && (t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
			return true
		}
	}
	return false
}

// chainPrepare runs two PrepareCreate hooks in order (either may be nil).
func chainPrepare(first, second func(runtime.Object)) func(runtime.Object) {
	return func(obj runtime.Object) {
		if first != nil {
			first(obj)
		}
		if second != nil {
			second(obj)
		}
	}
}
