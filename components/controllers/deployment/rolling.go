package deployment

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	appsv1 "k8s.io/api/apps/v1"
)

// rolloutRolling takes one step of a rolling update: scale the new
// ReplicaSet up as far as maxSurge allows, else scale old ones down as far
// as maxUnavailable allows. Each step changes ReplicaSets; their status
// changes bring the Deployment back for the next step.
func (c *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := c.replicaSetsAndSyncRevision(ctx, d, rss, true)
	if err != nil {
		return err
	}
	all := append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS)

	scaledUp, err := c.reconcileNewReplicaSet(ctx, all, newRS, d)
	if err != nil {
		return err
	}
	if scaledUp {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	scaledDown, err := c.reconcileOldReplicaSets(ctx, all, active(oldRSs), newRS, d)
	if err != nil {
		return err
	}
	if scaledDown {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	if deploymentComplete(d, &d.Status) {
		if err := c.cleanup(ctx, oldRSs, d); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, all, newRS, d)
}

func (c *Controller) reconcileNewReplicaSet(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) (bool, error) {
	if replicasOf(newRS) == desired(d) {
		return false, nil
	}
	if replicasOf(newRS) > desired(d) {
		scaled, _, err := c.scaleAndRecord(ctx, newRS, desired(d), d)
		return scaled, err
	}
	n, err := newRSReplicas(d, all, newRS)
	if err != nil {
		return false, err
	}
	if n > replicasOf(newRS) {
		// Scaling up is where a stale cache overshoots maxSurge (an old
		// ReplicaSet's scale-down not seen yet): check the sizes against
		// the API server before asking for more pods.
		if all, newRS, err = c.liveReplicaSets(ctx, d, all, newRS); err != nil {
			return false, err
		}
		if n, err = newRSReplicas(d, all, newRS); err != nil {
			return false, err
		}
	}
	scaled, _, err := c.scaleAndRecord(ctx, newRS, n, d)
	return scaled, err
}

// liveReplicaSets replaces the cached copies in all (and newRS) by what
// the API server has now.
func (c *Controller) liveReplicaSets(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) ([]*appsv1.ReplicaSet, *appsv1.ReplicaSet, error) {
	list, err := c.kube.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("list replicasets of %s/%s: %w", d.Namespace, d.Name, err)
	}
	live := map[types.UID]*appsv1.ReplicaSet{}
	for i := range list.Items {
		live[list.Items[i].UID] = &list.Items[i]
	}
	out := make([]*appsv1.ReplicaSet, 0, len(all))
	for _, rs := range all {
		if l, ok := live[rs.UID]; ok {
			rs = l
		}
		out = append(out, rs)
	}
	if l, ok := live[newRS.UID]; ok {
		newRS = l
	}
	return out, newRS, nil
}

// reconcileOldReplicaSets scales old ReplicaSets down while keeping at least
// replicas-maxUnavailable pods available. It first takes away old pods that
// are not available anyway (they would otherwise block the rollout), then
// available ones.
func (c *Controller) reconcileOldReplicaSets(ctx context.Context, all, oldRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) (bool, error) {
	if specReplicas(oldRSs) == 0 {
		return false, nil
	}
	minAvailable := desired(d) - maxUnavailable(d)
	newUnavailable := replicasOf(newRS) - newRS.Status.AvailableReplicas
	maxScaledDown := specReplicas(all) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return false, nil
	}
	oldRSs, cleaned, err := c.cleanupUnhealthyReplicas(ctx, oldRSs, d, maxScaledDown)
	if err != nil {
		return false, nil // like upstream: the next sync tries again
	}
	all = append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS)
	scaledDown, err := c.scaleDownOldForRollingUpdate(ctx, all, oldRSs, d)
	if err != nil {
		return false, nil
	}
	return cleaned+scaledDown > 0, nil
}

// cleanupUnhealthyReplicas scales old ReplicaSets down by their unavailable
// pods, oldest ReplicaSet first, at most maxCleanup in all.
func (c *Controller) cleanupUnhealthyReplicas(ctx context.Context, oldRSs []*appsv1.ReplicaSet, d *appsv1.Deployment, maxCleanup int32) ([]*appsv1.ReplicaSet, int32, error) {
	oldRSs = append([]*appsv1.ReplicaSet(nil), oldRSs...)
	byCreation(oldRSs)
	var total int32
	for i, rs := range oldRSs {
		if total >= maxCleanup {
			break
		}
		// Status can lag spec: a ReplicaSet just scaled down from 8 to 7
		// may still report 8 available. That is "nothing unhealthy", not a
		// reason to scale it back up to 8 (which would break maxSurge).
		if replicasOf(rs) == 0 || rs.Status.AvailableReplicas >= replicasOf(rs) {
			continue
		}
		n := min(maxCleanup-total, replicasOf(rs)-rs.Status.AvailableReplicas)
		_, updated, err := c.scaleAndRecord(ctx, rs, replicasOf(rs)-n, d)
		if err != nil {
			return nil, total, err
		}
		total += n
		oldRSs[i] = updated
	}
	return oldRSs, total, nil
}

// scaleDownOldForRollingUpdate removes available old pods beyond
// minAvailable, oldest ReplicaSet first.
func (c *Controller) scaleDownOldForRollingUpdate(ctx context.Context, all, oldRSs []*appsv1.ReplicaSet, d *appsv1.Deployment) (int32, error) {
	minAvailable := desired(d) - maxUnavailable(d)
	availableNow := availableToKeep(all)
	if availableNow <= minAvailable {
		return 0, nil
	}
	byCreation(oldRSs)
	want := availableNow - minAvailable
	var total int32
	for _, rs := range oldRSs {
		if total >= want {
			break
		}
		if replicasOf(rs) == 0 {
			continue
		}
		n := min(replicasOf(rs), want-total)
		if _, _, err := c.scaleAndRecord(ctx, rs, replicasOf(rs)-n, d); err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
