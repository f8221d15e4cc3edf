package disruption

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/cache"
)

// sync recomputes one PDB's status. If that fails for any reason but a
// conflict, it writes a fail-safe status (no disruptions allowed,
// condition SyncFailed) so evictions stop rather than trust stale numbers.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("split key %q: %w", key, err)
	}
	pdb, err := c.pdbs.PodDisruptionBudgets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil // deleted: nothing guards these pods any more
	}
	if err != nil {
		return fmt.Errorf("read poddisruptionbudget %s from cache: %w", key, err)
	}
	err = c.trySync(ctx, pdb)
	if err == nil || apierrors.IsConflict(err) {
		return err
	}
	if fsErr := c.failSafe(ctx, pdb, err); fsErr != nil {
		return fmt.Errorf("%w (and writing the fail-safe status: %v)", err, fsErr)
	}
	return err
}

func (c *Controller) trySync(ctx context.Context, pdb *policyv1.PodDisruptionBudget) error {
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		return fmt.Errorf("parse selector of poddisruptionbudget %s/%s: %w", pdb.Namespace, pdb.Name, err)
	}
	// A nil selector selects nothing, an empty one every pod (policy/v1).
	pods, err := c.pods.Pods(pdb.Namespace).List(sel)
	if err != nil {
		return fmt.Errorf("list pods in %s: %w", pdb.Namespace, err)
	}
	if len(pods) == 0 {
		c.recorder.Event(pdb, corev1.EventTypeNormal, "NoPods", "No matching pods found")
	}
	expected, desired, unmanaged, err := c.expectedPodCount(pdb, pods)
	if err != nil {
		c.recorder.Eventf(pdb, corev1.EventTypeWarning, "CalculateExpectedPodCountFailed", "Failed to calculate the number of expected pods: %v", err)
		return err
	}
	if len(unmanaged) > 0 {
		// Like upstream: not an error (that would hot-loop), but the numbers
		// leave these pods out.
		c.recorder.Eventf(pdb, corev1.EventTypeWarning, "UnmanagedPods", "Pods selected by this PodDisruptionBudget (selector: %v) "+
			"were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result "+
			"in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.",
			pdb.Spec.Selector)
	}
	now := c.now()
	disrupted, recheck := c.disruptedPods(pdb, pods, now)
	healthy := countHealthy(pods, disrupted, now)
	if err := c.updateStatus(ctx, pdb, healthy, desired, expected, disrupted); err != nil {
		return err
	}
	// An evicted pod that is still there stops being "about to go" after
	// deletionTimeout: look again then, as no event will remind us.
	if recheck != nil {
		c.queue.AddAfter(pdb.Namespace+"/"+pdb.Name, recheck.Sub(now))
	}
	return nil
}

// expectedPodCount says how many pods the PDB should see (expected) and
// how many of them must stay healthy (desired). An integer minAvailable
// needs nothing but the pods; maxUnavailable and percentages are relative
// to the scale of the pods' controllers, as upstream's getExpectedPodCount.
func (c *Controller) expectedPodCount(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod) (expected, desired int32, unmanaged []string, err error) {
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		if expected, unmanaged, err = c.expectedScale(pods); err != nil {
			return 0, 0, nil, err
		}
		maxUnavailable, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(expected), true)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("scale maxUnavailable %s: %w", pdb.Spec.MaxUnavailable.String(), err)
		}
		desired = max(0, expected-int32(maxUnavailable))
	case pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.Int:
		expected, desired = int32(len(pods)), pdb.Spec.MinAvailable.IntVal
	case pdb.Spec.MinAvailable != nil:
		if expected, unmanaged, err = c.expectedScale(pods); err != nil {
			return 0, 0, nil, err
		}
		minAvailable, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(expected), true)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("scale minAvailable %s: %w", pdb.Spec.MinAvailable.String(), err)
		}
		desired = int32(minAvailable)
	}
	return expected, desired, unmanaged, nil
}

// disruptedPods keeps the status.disruptedPods entries that still mean
// something: pods that exist, are not yet being deleted, and were evicted
// less than deletionTimeout ago. It also returns when the oldest kept entry
// expires.
func (c *Controller) disruptedPods(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, now time.Time) (map[string]metav1.Time, *time.Time) {
	out := map[string]metav1.Time{}
	var recheck *time.Time
	for _, p := range pods {
		at, found := pdb.Status.DisruptedPods[p.Name]
		if !found || p.DeletionTimestamp != nil {
			continue
		}
		expiry := at.Add(deletionTimeout)
		if expiry.Before(now) {
			slog.Info("evicted pod was not deleted in time", "pdb", pdb.Namespace+"/"+pdb.Name, "pod", p.Name)
			c.recorder.Eventf(p, corev1.EventTypeWarning, "NotDeleted", "Pod was expected by PDB %s/%s to be deleted but it wasn't", pdb.Namespace, pdb.Name)
			continue
		}
		if recheck == nil || expiry.Before(*recheck) {
			recheck = &expiry
		}
		out[p.Name] = at
	}
	return out, recheck
}

// countHealthy counts Ready pods that are neither being deleted nor just
// evicted.
func countHealthy(pods []*corev1.Pod, disrupted map[string]metav1.Time, now time.Time) int32 {
	var n int32
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if at, found := disrupted[p.Name]; found && at.Add(deletionTimeout).After(now) {
			continue
		}
		if isReady(p) {
			n++
		}
	}
	return n
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (c *Controller) updateStatus(ctx context.Context, pdb *policyv1.PodDisruptionBudget, healthy, desired, expected int32, disrupted map[string]metav1.Time) error {
	allowed := healthy - desired
	if expected <= 0 || allowed <= 0 {
		allowed = 0
	}
	s := pdb.Status
	if s.CurrentHealthy == healthy && s.DesiredHealthy == desired && s.ExpectedPods == expected &&
		s.DisruptionsAllowed == allowed && apiequality.Semantic.DeepEqual(s.DisruptedPods, disrupted) &&
		s.ObservedGeneration == pdb.Generation && conditionUpToDate(pdb) {
		return nil
	}
	pdb = pdb.DeepCopy()
	pdb.Status = policyv1.PodDisruptionBudgetStatus{
		CurrentHealthy: healthy, DesiredHealthy: desired, ExpectedPods: expected, DisruptionsAllowed: allowed,
		DisruptedPods: disrupted, ObservedGeneration: pdb.Generation, Conditions: pdb.Status.Conditions,
	}
	cond := metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse,
		Reason: policyv1.InsufficientPodsReason, ObservedGeneration: pdb.Generation}
	if allowed > 0 {
		cond.Status, cond.Reason = metav1.ConditionTrue, policyv1.SufficientPodsReason
	}
	apimeta.SetStatusCondition(&pdb.Status.Conditions, cond)
	return c.write(ctx, pdb)
}

// conditionUpToDate: DisruptionAllowed exists, is about this generation
// and agrees with disruptionsAllowed.
func conditionUpToDate(pdb *policyv1.PodDisruptionBudget) bool {
	cond := apimeta.FindStatusCondition(pdb.Status.Conditions, policyv1.DisruptionAllowedCondition)
	if cond == nil || cond.ObservedGeneration != pdb.Status.ObservedGeneration {
		return false
	}
	if pdb.Status.DisruptionsAllowed > 0 {
		return cond.Status == metav1.ConditionTrue && cond.Reason == policyv1.SufficientPodsReason
	}
	return cond.Status == metav1.ConditionFalse && cond.Reason == policyv1.InsufficientPodsReason
}

// failSafe allows no disruptions and says why in the condition.
func (c *Controller) failSafe(ctx context.Context, pdb *policyv1.PodDisruptionBudget, cause error) error {
	pdb = pdb.DeepCopy()
	pdb.Status.DisruptionsAllowed = 0
	apimeta.SetStatusCondition(&pdb.Status.Conditions, metav1.Condition{
		Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse, Reason: policyv1.SyncFailedReason,
		Message: cause.Error(), ObservedGeneration: pdb.Status.ObservedGeneration,
	})
	return c.write(ctx, pdb)
}

func (c *Controller) write(ctx context.Context, pdb *policyv1.PodDisruptionBudget) error {
	// The resourceVersion is the cached one: if the API server spent a
	// disruption meanwhile, this conflicts and we recompute from fresh data.
	_, err := c.kube.PolicyV1().PodDisruptionBudgets(pdb.Namespace).UpdateStatus(ctx, pdb, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update status of poddisruptionbudget %s/%s: %w", pdb.Namespace, pdb.Name, err)
	}
	return nil
}
