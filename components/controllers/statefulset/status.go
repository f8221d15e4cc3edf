package statefulset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
)

// computeStatus counts the set's pods as upstream does. `kubectl rollout
// status statefulset/web` reads exactly these fields: readyReplicas against
// spec.replicas, updatedReplicas against the partition, and whether
// currentRevision has caught up with updateRevision.
func (c *Controller) computeStatus(set *appsv1.StatefulSet, pods []*corev1.Pod, current, update *appsv1.ControllerRevision) appsv1.StatefulSetStatus {
	s := appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation,
		CurrentRevision:    current.Name, UpdateRevision: update.Name,
	}
	for _, p := range pods {
		if isCreated(p) {
			s.Replicas++
		}
		if isRunningAndReady(p) {
			s.ReadyReplicas++
			if isRunningAndAvailable(p, set.Spec.MinReadySeconds, c.now()) {
				s.AvailableReplicas++
			}
		}
		if isCreated(p) && !isTerminating(p) {
			if revisionOf(p) == current.Name {
				s.CurrentReplicas++
			}
			if revisionOf(p) == update.Name {
				s.UpdatedReplicas++
			}
		}
	}
	// Every pod updated and ready: the rolling update is over, the update
	// revision becomes the current one.
	n := int32(replicasOf(set))
	if set.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType &&
		s.UpdatedReplicas == n && s.ReadyReplicas == n && s.Replicas == n {
		s.CurrentReplicas = s.UpdatedReplicas
		s.CurrentRevision = s.UpdateRevision
	}
	return s
}

// updateStatus writes status if it changed, retrying on conflicts with a
// fresh copy of the set.
func (c *Controller) updateStatus(ctx context.Context, set *appsv1.StatefulSet, status appsv1.StatefulSetStatus) error {
	status.Conditions = set.Status.Conditions // nobody sets any; keep what is there
	if sameStatus(set.Status, status) {
		return nil
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		fresh := set.DeepCopy()
		fresh.Status = status
		_, err := c.kube.AppsV1().StatefulSets(set.Namespace).UpdateStatus(ctx, fresh, metav1.UpdateOptions{})
		if err == nil {
			return nil
		}
		got, gerr := c.kube.AppsV1().StatefulSets(set.Namespace).Get(ctx, set.Name, metav1.GetOptions{})
		if gerr != nil {
			return err
		}
		set = got
		return err
	})
	if err != nil {
		return fmt.Errorf("update status of statefulset %s/%s: %w", set.Namespace, set.Name, err)
	}
	return nil
}

func sameStatus(a, b appsv1.StatefulSetStatus) bool {
	return a.ObservedGeneration == b.ObservedGeneration && a.Replicas == b.Replicas &&
		a.ReadyReplicas == b.ReadyReplicas && a.AvailableReplicas == b.AvailableReplicas &&
		a.CurrentReplicas == b.CurrentReplicas && a.UpdatedReplicas == b.UpdatedReplicas &&
		a.CurrentRevision == b.CurrentRevision && a.UpdateRevision == b.UpdateRevision &&
		ptrEq(a.CollisionCount, b.CollisionCount)
}

func ptrEq(a, b *int32) bool {
	return a == b || (a != nil && b != nil && *a == *b) || (a == nil && b != nil && *b == 0) || (b == nil && a != nil && *a == 0)
}

// intOrPercent resolves maxUnavailable ("2" or "50%" of the replicas,
// rounded down).
func intOrPercent(v *intstr.IntOrString, total int) (int, error) {
	n, err := intstr.GetScaledValueFromIntOrPercent(v, total, false)
	if err != nil {
		return 0, fmt.Errorf("maxUnavailable %s: %w", v.String(), err)
	}
	return n, nil
}
