package tainteviction

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// sync looks at one pod and its node's NoExecute taints. It returns how
// long to wait before looking again (0: nothing planned).
func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, _ := strings.Cut(key, "/")
	pod, err := c.pods.Pods(ns).Get(name)
	if err != nil || pod.DeletionTimestamp != nil {
		// Gone, or going already: nothing to plan for it.
		c.mu.Lock()
		delete(c.planned, key)
		if err != nil {
			delete(c.evicted, key)
		}
		c.mu.Unlock()
		return 0, nil
	}
	c.mu.Lock()
	done := c.evicted[key] == pod.UID
	c.mu.Unlock()
	if done {
		return 0, nil // deleted by us; the cache has not seen it yet
	}
	var taints []corev1.Taint
	if pod.Spec.NodeName != "" {
		if node, err := c.nodes.Get(pod.Spec.NodeName); err == nil {
			taints = noExecute(node.Spec.Taints)
		}
	}
	now := c.clock.Now()
	v := decide(taints, pod.Spec.Tolerations, c.since(pod, now))
	switch {
	case !v.evict:
		c.cancel(pod, key)
		return 0, nil
	case v.at.After(now):
		c.mu.Lock()
		c.planned[key] = v.at
		c.mu.Unlock()
		return v.at.Sub(now), nil
	}
	if err := c.evict(ctx, pod); err != nil {
		return 0, err
	}
	c.mu.Lock()
	delete(c.planned, key)
	c.evicted[key] = pod.UID
	c.mu.Unlock()
	return 0, nil
}

// since says from when a taint counts for a pod: its timeAdded (or when we
// first saw it, for a taint written without one), but never before the
// pod was created.
func (c *Controller) since(pod *corev1.Pod, now time.Time) func(corev1.Taint) time.Time {
	return func(t corev1.Taint) time.Time {
		var at time.Time
		if t.TimeAdded != nil {
			at = t.TimeAdded.Time
		} else {
			id := pod.Spec.NodeName + "/" + t.Key + ":" + string(t.Effect)
			c.mu.Lock()
			if _, ok := c.firstSeen[id]; !ok {
				c.firstSeen[id] = now
			}
			at = c.firstSeen[id]
			c.mu.Unlock()
		}
		if created := pod.CreationTimestamp.Time; created.After(at) {
			at = created
		}
		return at
	}
}

// cancel forgets a planned eviction and says so, like upstream.
func (c *Controller) cancel(pod *corev1.Pod, key string) {
	c.mu.Lock()
	_, was := c.planned[key]
	delete(c.planned, key)
	c.mu.Unlock()
	if was {
		c.recorder.Eventf(pod, corev1.EventTypeNormal, "TaintManagerEviction", "Cancelling deletion of Pod %s", key)
	}
}

// evict marks the pod with a DisruptionTarget condition (so its owner, a
// Job with a pod failure policy, and `kubectl describe` know why it went)
// and deletes it with its own grace period.
func (c *Controller) evict(ctx context.Context, pod *corev1.Pod) error {
	key := pod.Namespace + "/" + pod.Name
	c.recorder.Eventf(pod, corev1.EventTypeNormal, "TaintManagerEviction", "Marking for deletion Pod %s", key)
	if err := c.addDisruptionTarget(ctx, pod); err != nil {
		return err
	}
	err := c.kube.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s: %w", key, err)
	}
	slog.Info("evicted pod from tainted node", "pod", key, "node", pod.Spec.NodeName)
	return nil
}

// DisruptionTarget is upstream's condition for pods about to be deleted
// by the system; the reason says which part of it.
func disruptionTarget(now time.Time) corev1.PodCondition {
	return corev1.PodCondition{
		Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: "DeletionByTaintManager", Message: "Taint manager: deleting due to NoExecute taint",
		LastTransitionTime: metav1.NewTime(now),
	}
}

func (c *Controller) addDisruptionTarget(ctx context.Context, pod *corev1.Pod) error {
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.DisruptionTarget && cond.Status == corev1.ConditionTrue {
			return nil
		}
	}
	// A strategic merge patch: conditions merge by type, so this adds
	// ours without racing the kubelet's writes to the others.
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": pod.UID},
		"status":   map[string]any{"conditions": []corev1.PodCondition{disruptionTarget(c.clock.Now())}},
	})
	if err != nil {
		return fmt.Errorf("encode condition patch: %w", err)
	}
	_, err = c.kube.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("add DisruptionTarget condition to pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
