package tainteviction

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// noExecute returns the node's NoExecute taints: the only ones that act
// on pods already running.
func noExecute(taints []corev1.Taint) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			out = append(out, t)
		}
	}
	return out
}

// verdict is what should happen to a pod on a tainted node.
type verdict struct {
	// evict: the pod must go, at At (At.IsZero(): at once).
	evict bool
	at    time.Time
}

// decide applies the NoExecute rules to one pod (upstream
// processPodOnNode):
//
//   - a taint no toleration matches: evict now;
//   - every taint tolerated, some only for tolerationSeconds: evict when
//     the first of those runs out, counted from when the taint was added
//     (or the pod appeared, if later: a pod does not inherit a taint's age);
//   - every taint tolerated without tolerationSeconds: stay for ever.
//
// Like upstream, the first toleration matching a taint is the one used.
// since(t) says from when a taint counts.
func decide(taints []corev1.Taint, tolerations []corev1.Toleration, since func(corev1.Taint) time.Time) verdict {
	var v verdict
	for _, taint := range taints {
		tol := firstToleration(tolerations, taint)
		if tol == nil {
			return verdict{evict: true}
		}
		if tol.TolerationSeconds == nil {
			continue // tolerated for ever
		}
		secs := max(*tol.TolerationSeconds, 0)
		at := since(taint).Add(time.Duration(secs) * time.Second)
		if !v.evict || at.Before(v.at) {
			v = verdict{evict: true, at: at}
		}
	}
	return v
}

func firstToleration(tolerations []corev1.Toleration, taint corev1.Taint) *corev1.Toleration {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(klog.Background(), &taint, false) {
			return &tolerations[i]
		}
	}
	return nil
}
