package statefulset

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/kubelab/kubelab/components/controllers/controllerref"
)

// sync brings one StatefulSet one step closer to its spec and writes its
// status.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("split key %q: %w", key, err)
	}
	set, err := c.setLister.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil // deleted: its pods and revisions are the garbage collector's
	}
	if err != nil {
		return fmt.Errorf("read statefulset %s from cache: %w", key, err)
	}
	selector, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil || selector.Empty() {
		return nil // validation should have refused it; retrying will not help
	}
	pods, err := c.claimPods(ctx, set, selector)
	if err != nil {
		return err
	}
	revs, err := c.claimRevisions(ctx, set, selector)
	if err != nil {
		return err
	}
	sortRevisions(revs)
	current, update, collisions, err := c.revisions(ctx, set, revs)
	if err != nil {
		return err
	}
	status, stepErr := c.step(ctx, set, pods, current, update)
	status.CollisionCount = &collisions
	if err := c.updateStatus(ctx, set, status); err != nil {
		return err
	}
	if stepErr != nil {
		return stepErr
	}
	if err := c.truncateHistory(ctx, set, pods, revs, current, update); err != nil {
		return err
	}
	// Availability comes minReadySeconds after readiness with no event.
	if set.Spec.MinReadySeconds > 0 && status.AvailableReplicas != status.ReadyReplicas {
		c.queue.AddAfter(key, time.Duration(set.Spec.MinReadySeconds)*time.Second)
	}
	return nil
}

// claimPods adopts orphans named and labelled like the set's pods and
// releases owned pods that no longer match the selector.
func (c *Controller) claimPods(ctx context.Context, set *appsv1.StatefulSet, selector labels.Selector) ([]*corev1.Pod, error) {
	all, err := c.podLister.Pods(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list pods in %s: %w", set.Namespace, err)
	}
	var members []*corev1.Pod
	for _, p := range all {
		if isMemberOf(set, p) { // "web-3" for set "web": other names are never ours
			members = append(members, p)
		}
	}
	m := controllerref.NewManager(set, controllerKind, selector, c.recheck(set))
	return controllerref.ClaimAll(ctx, m, members, func(ctx context.Context, name string, patch []byte) error {
		_, err := c.kube.CoreV1().Pods(set.Namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		return err
	})
}

// claimRevisions does the same for ControllerRevisions, which are found by
// the set's selector too (they carry the template's labels).
func (c *Controller) claimRevisions(ctx context.Context, set *appsv1.StatefulSet, selector labels.Selector) ([]*appsv1.ControllerRevision, error) {
	all, err := c.revLister.ControllerRevisions(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list controllerrevisions in %s: %w", set.Namespace, err)
	}
	m := controllerref.NewManager(set, controllerKind, selector, c.recheck(set))
	return controllerref.ClaimAll(ctx, m, all, func(ctx context.Context, name string, patch []byte) error {
		_, err := c.kube.AppsV1().ControllerRevisions(set.Namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		return err
	})
}

func (c *Controller) recheck(set *appsv1.StatefulSet) func(context.Context) error {
	return controllerref.Recheck(set, func(ctx context.Context) (metav1.Object, error) {
		return c.kube.AppsV1().StatefulSets(set.Namespace).Get(ctx, set.Name, metav1.GetOptions{})
	})
}

// step does what the set needs next, in upstream's order: fix or replace
// replicas (lowest ordinal first), then delete condemned pods (highest
// first), then the rolling update (highest first). With OrderedReady
// (monotonic) it stops at the first pod it must wait for. It returns the
// status to write, counted before the step's own changes are seen.
func (c *Controller) step(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod, current, update *appsv1.ControllerRevision) (appsv1.StatefulSetStatus, error) {
	status := c.computeStatus(set, pods, current, update)
	currentSet, err := applyRevision(set, current)
	if err != nil {
		return status, err
	}
	updateSet, err := applyRevision(set, update)
	if err != nil {
		return status, err
	}

	// Slot i holds ordinal start+i; pods beyond the range are condemned.
	start, n := startOrdinal(set), replicasOf(set)
	replicas := make([]*corev1.Pod, n)
	var condemned []*corev1.Pod
	for _, p := range pods {
		if o := ordinalOf(p); inRange(set, o) {
			replicas[o-start] = p
		} else if o >= 0 {
			condemned = append(condemned, p)
		}
	}
	slices.SortFunc(condemned, func(a, b *corev1.Pod) int { return ordinalOf(b) - ordinalOf(a) })
	if set.DeletionTimestamp != nil {
		return status, nil // being deleted: leave the pods to the garbage collector
	}
	// A pod deleted by hand (or for an update) comes back from the
	// revision its ordinal belongs to: below the partition the current one.
	for i := range replicas {
		if replicas[i] == nil {
			replicas[i] = c.versionedPod(set, currentSet, updateSet, current, update, start+i)
		}
	}
	monotonic := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
	firstUnhealthy := firstUnhealthyPod(replicas, condemned)

	for _, p := range condemned { // set the claims' owners before the pods go
		if err := c.fixClaimOwners(ctx, set, p); err != nil {
			return status, err
		}
	}
	for _, p := range replicas {
		wait, err := c.processReplica(ctx, set, p, monotonic)
		if err != nil || (wait && monotonic) {
			return status, err
		}
	}
	for _, p := range condemned {
		wait, err := c.processCondemned(ctx, set, p, monotonic, p == firstUnhealthy)
		if err != nil || (wait && monotonic) {
			return status, err
		}
	}
	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return status, nil // pods pick up the new template when someone deletes them
	}
	return status, c.rollingUpdate(ctx, set, replicas, update, &status)
}

// versionedPod builds the pod for ordinal at the revision it should have.
func (c *Controller) versionedPod(set, currentSet, updateSet *appsv1.StatefulSet, current, update *appsv1.ControllerRevision, ordinal int) *corev1.Pod {
	if ru := set.Spec.UpdateStrategy.RollingUpdate; set.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType &&
		ru != nil && ru.Partition != nil && ordinal < startOrdinal(set)+int(*ru.Partition) {
		return newPod(currentSet, ordinal, current.Name)
	}
	return newPod(updateSet, ordinal, update.Name)
}

func firstUnhealthyPod(replicas, condemned []*corev1.Pod) *corev1.Pod {
	for _, p := range slices.Concat(replicas, condemned) {
		if !isHealthy(p) {
			return p
		}
	}
	return nil
}

// processReplica creates, replaces or repairs the pod of one ordinal. wait
// says an ordered set must not go on to the next ordinal.
func (c *Controller) processReplica(ctx context.Context, set *appsv1.StatefulSet, p *corev1.Pod, monotonic bool) (bool, error) {
	if isFinished(p) {
		// A pod that failed (or exited) is deleted and, next sync, created
		// again under the same name.
		if !isTerminating(p) {
			reason, what := "RecreatingFailedPod", "failed"
			if p.Status.Phase == corev1.PodSucceeded {
				reason, what = "RecreatingTerminatedPod", "terminated"
			}
			c.recorder.Eventf(set, corev1.EventTypeWarning, reason, "StatefulSet %s/%s is recreating %s Pod %s", set.Namespace, set.Name, what, p.Name)
			if err := c.removePod(ctx, set, p); err != nil {
				return true, err
			}
		}
		return true, nil
	}
	if !isCreated(p) { // built by this sync: the ordinal has no pod
		if c.claimIsStale(set, ordinalOf(p)) {
			slog.Debug("waiting for a stale claim to be deleted", "statefulset", set.Namespace+"/"+set.Name, "pod", p.Name)
			return true, nil
		}
		if err := c.createPod(ctx, set, p); err != nil {
			return true, err
		}
		return true, nil // one pod per ordered step: wait until it is Running and Ready
	}
	if p.Status.Phase == corev1.PodPending {
		// Claims deleted while the pod waits to start are created again;
		// a running pod has its volumes already.
		if err := c.createClaims(ctx, set, p); err != nil {
			return true, err
		}
	}
	if isTerminating(p) || !isRunningAndAvailable(p, set.Spec.MinReadySeconds, c.now()) {
		return true, nil
	}
	if err := c.repairPod(ctx, set, p); err != nil {
		return true, err
	}
	return false, c.fixClaimOwners(ctx, set, p)
}

// processCondemned deletes one pod beyond spec.replicas. Ordered sets
// delete one at a time, only when all others are healthy (or this one is
// the first unhealthy pod: waiting for it would block forever).
func (c *Controller) processCondemned(ctx context.Context, set *appsv1.StatefulSet, p *corev1.Pod, monotonic, firstUnhealthy bool) (bool, error) {
	if isTerminating(p) {
		return true, nil
	}
	if monotonic && !firstUnhealthy && !isRunningAndAvailable(p, set.Spec.MinReadySeconds, c.now()) {
		return true, nil
	}
	return true, c.removePod(ctx, set, p)
}

// rollingUpdate deletes the highest-ordinal pod not at the update revision
// (down to the partition); the replica loop re-creates it from the new
// template next time. Without maxUnavailable it goes one pod at a time and
// waits for each replaced pod to be healthy; with it, up to maxUnavailable
// pods may be down at once.
func (c *Controller) rollingUpdate(ctx context.Context, set *appsv1.StatefulSet, replicas []*corev1.Pod, update *appsv1.ControllerRevision, status *appsv1.StatefulSetStatus) error {
	partition, maxUnavailable := 0, 1
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil {
		if ru.Partition != nil {
			partition = int(*ru.Partition)
		}
		if ru.MaxUnavailable != nil {
			m, err := intOrPercent(ru.MaxUnavailable, len(replicas))
			if err != nil {
				return err
			}
			maxUnavailable = max(m, 1)
		}
	}
	if maxUnavailable == 1 {
		for i := len(replicas) - 1; i >= partition; i-- {
			p := replicas[i]
			if revisionOf(p) != update.Name && !isTerminating(p) {
				status.CurrentReplicas--
				return c.removePod(ctx, set, p)
			}
			if !isHealthy(p) {
				return nil // wait for the pod we replaced
			}
		}
		return nil
	}
	unavailable := 0
	for _, p := range replicas {
		if !isHealthy(p) || !isRunningAndAvailable(p, set.Spec.MinReadySeconds, c.now()) {
			unavailable++
		}
	}
	for i := len(replicas) - 1; i >= partition && unavailable < maxUnavailable; i-- {
		p := replicas[i]
		if revisionOf(p) == update.Name || isTerminating(p) || !isCreated(p) {
			continue
		}
		if err := c.removePod(ctx, set, p); err != nil {
			return err
		}
		status.CurrentReplicas--
		if isHealthy(p) {
			unavailable++
		}
	}
	return nil
}
