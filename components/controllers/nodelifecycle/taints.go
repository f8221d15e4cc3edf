package nodelifecycle

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// The taints this controller owns. Kubernetes spells a node's condition as
// a taint so that the scheduler (NoSchedule) and the taint eviction
// controller (NoExecute) can act on it through ordinary tolerations.
var (
	// NotReadyNoExecute / UnreachableNoExecute evict pods that do not
	// tolerate them (taint-based eviction). Exactly one of the two is on a
	// node whose Ready condition is False / Unknown.
	NotReadyNoExecute    = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
	UnreachableNoExecute = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
)

// conditionTaints maps node conditions to the NoSchedule taint that keeps
// new pods away (upstream TaintNodesByCondition).
var conditionTaints = []struct {
	condition corev1.NodeConditionType
	status    corev1.ConditionStatus
	key       string
}{
	{corev1.NodeReady, corev1.ConditionFalse, corev1.TaintNodeNotReady},
	{corev1.NodeReady, corev1.ConditionUnknown, corev1.TaintNodeUnreachable},
	{corev1.NodeMemoryPressure, corev1.ConditionTrue, corev1.TaintNodeMemoryPressure},
	{corev1.NodeDiskPressure, corev1.ConditionTrue, corev1.TaintNodeDiskPressure},
	{corev1.NodeNetworkUnavailable, corev1.ConditionTrue, corev1.TaintNodeNetworkUnavailable},
	{corev1.NodePIDPressure, corev1.ConditionTrue, corev1.TaintNodePIDPressure},
}

// managedNoSchedule are the NoSchedule taint keys this controller adds
// and removes; any other taint on the node is someone else's.
var managedNoSchedule = map[string]bool{corev1.TaintNodeUnschedulable: true}

func init() {
	for _, ct := range conditionTaints {
		managedNoSchedule[ct.key] = true
	}
}

// noScheduleTaints are the NoSchedule taints the node's conditions and
// spec.unschedulable (kubectl cordon) call for. A node without a Ready
// condition gets no Ready taint here: the kubelet registers with
// not-ready:NoSchedule itself, and the health check sets Ready=Unknown
// once the startup grace period is over.
func noScheduleTaints(node *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	for _, ct := range conditionTaints {
		if c := condition(node.Status.Conditions, ct.condition); c != nil && c.Status == ct.status {
			out = append(out, corev1.Taint{Key: ct.key, Effect: corev1.TaintEffectNoSchedule})
		}
	}
	if node.Spec.Unschedulable {
		out = append(out, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	return out
}

// noScheduleDiff compares the wanted NoSchedule taints with the managed
// ones on the node.
func noScheduleDiff(node *corev1.Node) (add, remove []corev1.Taint) {
	want := noScheduleTaints(node)
	for _, w := range want {
		if !hasTaint(node.Spec.Taints, w) {
			add = append(add, w)
		}
	}
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule && managedNoSchedule[t.Key] && !hasTaint(want, t) {
			remove = append(remove, t)
		}
	}
	return add, remove
}

// hasTaint reports whether list holds a taint with t's key and effect.
func hasTaint(list []corev1.Taint, t corev1.Taint) bool {
	for i := range list {
		if list[i].MatchTaint(&t) {
			return true
		}
	}
	return false
}

// withTaints returns taints with add put in (replacing same key+effect)
// and remove taken out. NoExecute taints get timeAdded, which the taint
// eviction controller counts tolerationSeconds from.
func withTaints(taints, add, remove []corev1.Taint, now time.Time) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range taints {
		if !hasTaint(add, t) && !hasTaint(remove, t) {
			out = append(out, t)
		}
	}
	for _, t := range add {
		if t.Effect == corev1.TaintEffectNoExecute {
			at := metav1.NewTime(now)
			t.TimeAdded = &at
		}
		out = append(out, t)
	}
	return out
}

// swapTaints writes a node's taints: add (unless present), remove. It
// starts from the cached node and re-reads it on a conflict.
func swapTaints(ctx context.Context, kube kubernetes.Interface, cached *corev1.Node, add, remove []corev1.Taint, now time.Time) error {
	node := cached
	first := true
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if !first {
			fresh, err := kube.CoreV1().Nodes().Get(ctx, cached.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			node = fresh
		}
		first = false
		var missing []corev1.Taint
		for _, t := range add {
			if !hasTaint(node.Spec.Taints, t) {
				missing = append(missing, t)
			}
		}
		var present []corev1.Taint
		for _, t := range remove {
			if hasTaint(node.Spec.Taints, t) {
				present = append(present, t)
			}
		}
		if len(missing) == 0 && len(present) == 0 {
			return nil
		}
		updated := node.DeepCopy()
		updated.Spec.Taints = withTaints(node.Spec.Taints, missing, present, now)
		_, err := kube.CoreV1().Nodes().Update(ctx, updated, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil // the node is gone: nothing to taint
	}
	if err != nil {
		return fmt.Errorf("update taints of node %s: %w", cached.Name, err)
	}
	return nil
}

// syncNode keeps the NoSchedule taints in line with the node's conditions
// and spec.unschedulable (upstream doNoScheduleTaintingPass).
func (c *Controller) syncNode(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	if err != nil {
		return nil // deleted
	}
	add, remove := noScheduleDiff(node)
	if len(add) == 0 && len(remove) == 0 {
		return nil
	}
	return swapTaints(ctx, c.kube, node, add, remove, c.clock.Now())
}
