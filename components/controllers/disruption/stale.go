package disruption

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// stalePodDisruptionTimeout: how long a pod may carry DisruptionTarget=True
// without being deleted before the condition is withdrawn (upstream 2m).
// The eviction API sets the condition just before its delete; if the
// delete then failed, nothing else would ever clear it, and a Job's pod
// failure policy would later misread the pod's end as a disruption.
const stalePodDisruptionTimeout = 2 * time.Minute

// staleDisruption says whether the pod carries a DisruptionTarget
// condition that will be stale, and in how long. Conditions the kubelet
// set (preemption, node shutdown) and terminal pods are left alone.
func staleDisruption(pod *corev1.Pod, now time.Time) (bool, time.Duration) {
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false, 0
	}
	cond := podCondition(pod, corev1.DisruptionTarget)
	if cond == nil || cond.Status != corev1.ConditionTrue || cond.Reason == corev1.PodReasonTerminationByKubelet {
		return false, 0
	}
	return true, max(0, stalePodDisruptionTimeout-now.Sub(cond.LastTransitionTime.Time))
}

func podCondition(pod *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// enqueueStale schedules a look at a pod whose DisruptionTarget condition
// will be stale.
func (c *Controller) enqueueStale(pod *corev1.Pod) {
	if stale, after := staleDisruption(pod, c.now()); stale {
		c.staleQueue.AddAfter(pod.Namespace+"/"+pod.Name, after)
	}
}

// syncStale sets a stale DisruptionTarget condition to False.
func (c *Controller) syncStale(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("split key %q: %w", key, err)
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read pod %s from cache: %w", key, err)
	}
	stale, after := staleDisruption(pod, c.now())
	if !stale {
		return nil
	}
	if after > 0 {
		c.staleQueue.AddAfter(key, after)
		return nil
	}
	pod = pod.DeepCopy()
	cond := podCondition(pod, corev1.DisruptionTarget)
	cond.Status, cond.LastTransitionTime = corev1.ConditionFalse, metav1.NewTime(c.now())
	// The cached resourceVersion: if the pod changed meanwhile, we look again.
	if _, err := c.kube.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{FieldManager: "DisruptionController"}); err != nil {
		return fmt.Errorf("reset stale DisruptionTarget condition of pod %s: %w", key, err)
	}
	slog.Info("reset stale DisruptionTarget condition", "pod", key)
	return nil
}
