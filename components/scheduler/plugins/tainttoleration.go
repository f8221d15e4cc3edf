package plugins

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubelab/kubelab/components/scheduler/framework"
)

// TaintToleration keeps pods off nodes whose NoSchedule and NoExecute taints
// they do not tolerate, and prefers nodes with fewer untolerated
// PreferNoSchedule taints.
//
// Nodes that are not Ready count as tainted node.kubernetes.io/not-ready
// (Ready=False) or node.kubernetes.io/unreachable (Ready=Unknown or no
// Ready condition), NoSchedule, even before the node lifecycle controller
// has put the taint on: upstream has no Ready filter and relies on those
// taints, so doing the same here gives the same messages and lets pods that
// tolerate them (some DaemonSets) through.
type TaintToleration struct{}

// Name implements framework.Plugin.
func (TaintToleration) Name() string { return TaintTolerationName }

// Filter implements framework.FilterPlugin.
func (TaintToleration) Filter(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	taints := ni.Node.Spec.Taints
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(pi.Pod.Spec.Tolerations, t) {
			return untolerated(t)
		}
	}
	if t := impliedTaint(ni.Node); t != nil && !tolerates(pi.Pod.Spec.Tolerations, t) {
		return untolerated(t)
	}
	return nil
}

func untolerated(t *corev1.Taint) *framework.Status {
	return framework.NewStatus(framework.UnschedulableAndUnresolvable,
		fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value))
}

// impliedTaint is the taint a node's Ready condition stands for, unless the
// node already carries it.
func impliedTaint(node *corev1.Node) *corev1.Taint {
	key := corev1.TaintNodeUnreachable
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			switch c.Status {
			case corev1.ConditionTrue:
				return nil
			case corev1.ConditionFalse:
				key = corev1.TaintNodeNotReady
			}
		}
	}
	for _, t := range node.Spec.Taints {
		if t.Key == key {
			return nil // the real taint was checked above, whatever its effect
		}
	}
	return &corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule}
}

// Score implements framework.ScorePlugin: the raw score counts untolerated
// PreferNoSchedule taints (more is worse; NormalizeScore reverses it).
func (TaintToleration) Score(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, ni *framework.NodeInfo) (int64, *framework.Status) {
	var n int64
	for i := range ni.Node.Spec.Taints {
		t := &ni.Node.Spec.Taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule && !tolerates(preferTolerations(pi.Pod.Spec.Tolerations), t) {
			n++
		}
	}
	return n, nil
}

// preferTolerations keeps the tolerations that can tolerate
// PreferNoSchedule (those with that effect or none).
func preferTolerations(tols []corev1.Toleration) []corev1.Toleration {
	var out []corev1.Toleration
	for _, t := range tols {
		if t.Effect == "" || t.Effect == corev1.TaintEffectPreferNoSchedule {
			out = append(out, t)
		}
	}
	return out
}

// NormalizeScore implements framework.ScoreNormalizer.
func (TaintToleration) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, scores []int64) *framework.Status {
	framework.DefaultNormalizeScore(true, scores)
	return nil
}
