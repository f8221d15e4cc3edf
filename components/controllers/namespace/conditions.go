package namespace

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A terminating namespace tells why it is still there through four
// conditions, the same as upstream's, so `kubectl describe ns` shows a stuck
// deletion's cause. Each is False ("all good") or True ("this is the
// problem"), with these reasons and messages:
var conditionOK = map[corev1.NamespaceConditionType]struct{ reason, message string }{
	corev1.NamespaceDeletionDiscoveryFailure: {"ResourcesDiscovered", "All resources successfully discovered"},
	corev1.NamespaceDeletionContentFailure:   {"ContentDeleted", "All content successfully deleted, may be waiting on finalization"},
	corev1.NamespaceContentRemaining:         {"ContentRemoved", "All content successfully removed"},
	corev1.NamespaceFinalizersRemaining:      {"ContentHasNoFinalizers", "All content-preserving finalizers finished"},
}

var conditionOrder = []corev1.NamespaceConditionType{
	corev1.NamespaceDeletionDiscoveryFailure,
	corev1.NamespaceDeletionContentFailure,
	corev1.NamespaceContentRemaining,
	corev1.NamespaceFinalizersRemaining,
}

// conditions turns a report into the four conditions.
func (r *contentReport) conditions() []corev1.NamespaceCondition {
	bad := map[corev1.NamespaceConditionType]corev1.NamespaceCondition{}
	if r.discoveryErr != nil {
		bad[corev1.NamespaceDeletionDiscoveryFailure] = corev1.NamespaceCondition{
			Reason: "DiscoveryFailed", Message: fmt.Sprintf("Discovery failed for some groups: %v", r.discoveryErr)}
	}
	if len(r.deleteErrs) > 0 {
		var msgs []string
		for _, gvr := range sortedGVRs(r.deleteErrs) {
			msgs = append(msgs, r.deleteErrs[gvr].Error())
		}
		bad[corev1.NamespaceDeletionContentFailure] = corev1.NamespaceCondition{
			Reason:  "ContentDeletionFailed",
			Message: fmt.Sprintf("Failed to delete all resource types, %d remaining: %s", len(msgs), strings.Join(msgs, ", "))}
	}
	if len(r.remaining) > 0 {
		var parts []string
		for gr, n := range r.remaining {
			parts = append(parts, fmt.Sprintf("%s has %d resource instances", gr.String(), n))
		}
		sort.Strings(parts)
		bad[corev1.NamespaceContentRemaining] = corev1.NamespaceCondition{
			Reason: "SomeResourcesRemain", Message: "Some resources are remaining: " + strings.Join(parts, ", ")}
	}
	if len(r.finalizers) > 0 {
		var parts []string
		for f, n := range r.finalizers {
			parts = append(parts, fmt.Sprintf("%s in %d resource instances", f, n))
		}
		sort.Strings(parts)
		bad[corev1.NamespaceFinalizersRemaining] = corev1.NamespaceCondition{
			Reason: "SomeFinalizersRemain", Message: "Some content in the namespace has finalizers remaining: " + strings.Join(parts, ", ")}
	}

	out := make([]corev1.NamespaceCondition, 0, len(conditionOrder))
	for _, t := range conditionOrder {
		cond, isBad := bad[t]
		if isBad {
			cond.Status = corev1.ConditionTrue
		} else {
			ok := conditionOK[t]
			cond = corev1.NamespaceCondition{Status: corev1.ConditionFalse, Reason: ok.reason, Message: ok.message}
		}
		cond.Type = t
		out = append(out, cond)
	}
	return out
}

// updateConditions writes the conditions through the status subresource
// when they changed, and returns the namespace as now stored (its new
// resourceVersion matters: finalize is a conditional write).
func (c *Controller) updateConditions(ctx context.Context, ns *corev1.Namespace, conds []corev1.NamespaceCondition) (*corev1.Namespace, error) {
	out := ns.DeepCopy()
	changed := false
	for _, cond := range conds {
		if setCondition(&out.Status, cond, metav1.NewTime(c.now())) {
			changed = true
		}
	}
	if !changed {
		return ns, nil
	}
	updated, err := c.kube.CoreV1().Namespaces().UpdateStatus(ctx, out, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return ns, nil
	}
	if err != nil {
		return nil, fmt.Errorf("update status of namespace %s: %w", ns.Name, err)
	}
	return updated, nil
}

// setCondition replaces the condition of the same type and reports whether
// anything changed. The transition time moves only when the status flips.
func setCondition(status *corev1.NamespaceStatus, cond corev1.NamespaceCondition, now metav1.Time) bool {
	for i, old := range status.Conditions {
		if old.Type != cond.Type {
			continue
		}
		if old.Status == cond.Status && old.Reason == cond.Reason && old.Message == cond.Message {
			return false
		}
		cond.LastTransitionTime = old.LastTransitionTime
		if old.Status != cond.Status {
			cond.LastTransitionTime = now
		}
		status.Conditions[i] = cond
		return true
	}
	cond.LastTransitionTime = now
	status.Conditions = append(status.Conditions, cond)
	return true
}
