package daemonset

import (
	"context"
	"fmt"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// calculateStatus counts per node, like upstream: a node that should run
// the daemon adds to desired, and if it has a pod, the oldest scheduled pod
// there decides ready/available/updated. A pod on a node that should not
// run it is misscheduled.
func (c *Controller) calculateStatus(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) appsv1.DaemonSetStatus {
	status := *ds.Status.DeepCopy()
	var desired, current, misscheduled, ready, available, updated int32
	now := c.now()
	for _, node := range nodes {
		run, _ := shouldRun(node, ds)
		pods := byNode[node.Name]
		if !run {
			if len(pods) > 0 {
				misscheduled++
			}
			continue
		}
		desired++
		if len(pods) == 0 {
			continue
		}
		current++
		pods = append([]*corev1.Pod(nil), pods...)
		sort.Slice(pods, func(i, j int) bool { return olderScheduled(pods[i], pods[j]) })
		p := pods[0]
		if isReady(p) {
			ready++
			if isAvailable(p, ds.Spec.MinReadySeconds, now) {
				available++
			}
		}
		if isUpdated(p, hash, ds.Generation) {
			updated++
		}
	}
	status.DesiredNumberScheduled = desired
	status.CurrentNumberScheduled = current
	status.NumberMisscheduled = misscheduled
	status.NumberReady = ready
	status.NumberAvailable = available
	status.UpdatedNumberScheduled = updated
	status.NumberUnavailable = desired - available
	status.ObservedGeneration = ds.Generation
	return status
}

// updateStatus writes the status if it changed, retrying once on a fresh
// copy (upstream's StatusUpdateRetries), and comes back after
// minReadySeconds when ready pods are still waiting to count as available.
func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) error {
	status := c.calculateStatus(ds, nodes, byNode, hash)
	if ds.Spec.MinReadySeconds > 0 && status.NumberReady != status.NumberAvailable {
		c.queue.AddAfter(ds.Namespace+"/"+ds.Name, time.Duration(ds.Spec.MinReadySeconds)*time.Second)
	}
	if apiequality.Semantic.DeepEqual(ds.Status, status) {
		return nil
	}
	upd := ds.DeepCopy()
	for attempt := 0; ; attempt++ {
		status.CollisionCount = upd.Status.CollisionCount // owned by snapshot, not us
		upd.Status = status
		_, err := c.kube.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		if err == nil {
			return nil
		}
		if attempt == 1 {
			return fmt.Errorf("update status of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
		}
		fresh, getErr := c.kube.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
		if getErr != nil {
			return fmt.Errorf("update status of daemonset %s/%s: %w (and reading it again: %v)", ds.Namespace, ds.Name, err, getErr)
		}
		upd = fresh
	}
}
