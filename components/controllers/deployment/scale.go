package deployment

import (
	"context"
	"fmt"
	"math"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// scale follows a change of spec.replicas without a template change.
// With one active ReplicaSet (or none) it simply gets the new count. In the
// middle of a rollout, the difference is spread proportionally over all
// active ReplicaSets, so the rollout continues with the same old/new mix:
// 10 replicas at 7 old + 5 new (maxSurge 2), scaled to 20, becomes 13 + 9.
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) error {
	if rs := activeOrLatest(newRS, oldRSs); rs != nil {
		if replicasOf(rs) == desired(d) {
			return nil
		}
		_, _, err := c.scaleAndRecord(ctx, rs, desired(d), d)
		return err
	}
	// A saturated new ReplicaSet (e.g. just adopted): the old ones go.
	if isSaturated(d, newRS) {
		for _, old := range active(oldRSs) {
			if _, _, err := c.scaleAndRecord(ctx, old, 0, d); err != nil {
				return err
			}
		}
		return nil
	}
	if !isRollingUpdate(d) {
		return nil
	}
	all := active(append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS))
	allowed := int32(0)
	if desired(d) > 0 {
		allowed = desired(d) + maxSurge(d)
	}
	toAdd := allowed - specReplicas(all)
	// Larger ReplicaSets first; on ties, scale up newer ones first and
	// scale down older ones first.
	op := ""
	switch {
	case toAdd > 0:
		bySize(all, true)
		op = "up"
	case toAdd < 0:
		bySize(all, false)
		op = "down"
	}
	added := int32(0)
	sizes := make([]int32, len(all))
	for i, rs := range all {
		sizes[i] = replicasOf(rs)
		if toAdd != 0 {
			p := proportion(rs, d, toAdd, added)
			sizes[i] += p
			added += p
		}
	}
	if toAdd != 0 && len(all) > 0 {
		sizes[0] = max(sizes[0]+toAdd-added, 0) // rounding leftovers go to the largest
	}
	for i, rs := range all {
		if _, _, err := c.scaleReplicaSet(ctx, rs, sizes[i], d, op); err != nil {
			return err // the Deployment is requeued and tries again
		}
	}
	return nil
}

// activeOrLatest returns the only active ReplicaSet, or the newest one if
// none is active; nil when several are active.
func activeOrLatest(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(oldRSs) == 0 {
		return nil
	}
	olds := append([]*appsv1.ReplicaSet(nil), oldRSs...)
	byCreation(olds)
	act := active(append(olds, newRS))
	switch len(act) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return olds[len(olds)-1]
	case 1:
		return act[0]
	}
	return nil
}

// isSaturated: the new ReplicaSet runs all replicas, all available.
func isSaturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	want, ok := intAnnotation(rs, DesiredReplicasAnnotation)
	return ok && replicasOf(rs) == desired(d) && want == desired(d) && rs.Status.AvailableReplicas == desired(d)
}

// proportion is rs's share of toAdd: its size scaled by how the maximum
// size (replicas+maxSurge) changed since it was recorded in the
// max-replicas annotation, capped by what is left to add.
func proportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	if rs == nil || replicasOf(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	f := fraction(rs, d)
	if toAdd > 0 {
		return min(f, toAdd-added)
	}
	return max(f, toAdd-added)
}

func fraction(rs *appsv1.ReplicaSet, d *appsv1.Deployment) int32 {
	if desired(d) == 0 {
		return -replicasOf(rs) // scaling to zero: all of it goes
	}
	maxNow := desired(d) + maxSurge(d)
	maxBefore, ok := intAnnotation(rs, MaxReplicasAnnotation)
	if !ok || maxBefore == 0 {
		// Edited by hand or made by an old controller: use the
		// Deployment's current size instead.
		maxBefore = d.Status.Replicas
		if maxBefore == 0 {
			return 0
		}
	}
	size := float64(replicasOf(rs)*maxNow) / float64(maxBefore)
	return int32(math.Round(size)) - replicasOf(rs)
}

// scaleAndRecord scales rs to n, with the ScalingReplicaSet event.
func (c *Controller) scaleAndRecord(ctx context.Context, rs *appsv1.ReplicaSet, n int32, d *appsv1.Deployment) (bool, *appsv1.ReplicaSet, error) {
	if replicasOf(rs) == n {
		return false, rs, nil
	}
	op := "down"
	if replicasOf(rs) < n {
		op = "up"
	}
	return c.scaleReplicaSet(ctx, rs, n, d, op)
}

// scaleReplicaSet writes spec.replicas and the desired/max annotations.
func (c *Controller) scaleReplicaSet(ctx context.Context, rs *appsv1.ReplicaSet, n int32, d *appsv1.Deployment, op string) (bool, *appsv1.ReplicaSet, error) {
	sizeChanged := replicasOf(rs) != n
	cp := rs.DeepCopy()
	annotationsChanged := setReplicasAnnotations(cp, desired(d), desired(d)+maxSurge(d))
	if !sizeChanged && !annotationsChanged {
		return false, rs, nil
	}
	from := replicasOf(rs)
	cp.Spec.Replicas = ptr.To(n)
	out, err := c.kube.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return false, rs, fmt.Errorf("scale replicaset %s/%s to %d: %w", rs.Namespace, rs.Name, n, err)
	}
	if sizeChanged {
		c.scaled.wrote(out)
		c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", op, out.Name, from, n)
	}
	return sizeChanged, out, nil
}
