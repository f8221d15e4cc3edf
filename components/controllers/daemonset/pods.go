package daemonset

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	intstrutil "k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// newPod builds the daemon pod for node: the template with the revision
// labels, the automatic tolerations, and pinned to node by affinity.
func newPod(ds *appsv1.DaemonSet, node, hash string) *corev1.Pod {
	t := ds.Spec.Template.DeepCopy()
	lbls := withLabel(t.Labels, generationLabel, fmt.Sprint(ds.Generation))
	if hash != "" {
		lbls[hashLabel] = hash
	}
	prefix := ds.Name + "-"
	if len(validation.IsDNS1123Subdomain(prefix+"a")) > 0 {
		prefix = ds.Name // upstream drops the dash when it would make the name invalid
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: prefix, Namespace: ds.Namespace,
			Labels: lbls, Annotations: t.Annotations, Finalizers: t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, controllerKind)},
		},
		Spec: t.Spec,
	}
	addDaemonTolerations(&pod.Spec)
	pinToNode(&pod.Spec, node)
	return pod
}

func (c *Controller) createPod(ctx context.Context, ds *appsv1.DaemonSet, node, hash string) error {
	created, err := c.kube.CoreV1().Pods(ds.Namespace).Create(ctx, newPod(ds, node, hash), metav1.CreateOptions{})
	if err != nil {
		if !apierrors.IsTimeout(err) { // a timeout may still have created it
			c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		}
		return fmt.Errorf("create pod for daemonset %s/%s on node %s: %w", ds.Namespace, ds.Name, node, err)
	}
	slog.Debug("created pod", "controller", "daemonset", "owner", ds.Namespace+"/"+ds.Name, "node", node, "pod", created.Name)
	c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", created.Name)
	return nil
}

func (c *Controller) deletePodFor(ctx context.Context, ds *appsv1.DaemonSet, p *corev1.Pod) error {
	err := c.kube.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return err // someone was faster; not an event
	}
	if err != nil {
		c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		return fmt.Errorf("delete pod %s/%s of daemonset %s: %w", p.Namespace, p.Name, ds.Name, err)
	}
	c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", p.Name)
	return nil
}

// slowStartBatch calls fn count times in batches of 1, 2, 4, … (from
// initial), in parallel within a batch, stopping after a batch with an
// error: a DaemonSet that cannot create pods (quota, admission) fails
// with a few API calls, not one per node. It returns the successes.
func slowStartBatch(count, initial int, fn func() error) (int, error) {
	remaining, successes := count, 0
	for batch := min(remaining, initial); batch > 0; batch = min(2*batch, remaining) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Go(func() {
				if err := fn(); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		failed := len(errs)
		successes += batch - failed
		if failed > 0 {
			return successes, <-errs
		}
		remaining -= batch
	}
	return successes, nil
}

func readyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func isReady(p *corev1.Pod) bool {
	c := readyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// isAvailable: ready for at least minReadySeconds.
func isAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	if !isReady(p) {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	c := readyCondition(p)
	return !c.LastTransitionTime.IsZero() && c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).Before(now)
}

// maxUnavailable is rollingUpdate.maxUnavailable scaled to the desired
// node count (percentages round up), at least 1 so a rollout can move.
func maxUnavailable(ds *appsv1.DaemonSet, desired int) int {
	n := 1
	if r := ds.Spec.UpdateStrategy.RollingUpdate; r != nil && r.MaxUnavailable != nil {
		if v, err := intstrutil.GetScaledValueFromIntOrPercent(r.MaxUnavailable, desired, true); err == nil {
			n = v
		}
	}
	if n == 0 && desired > 0 {
		n = 1
	}
	return n
}
