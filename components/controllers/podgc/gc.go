package podgc

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// gc is one sweep, in upstream's order.
func (c *Controller) gc(ctx context.Context) {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		slog.Warn("list pods from cache", "err", err)
		return
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		slog.Warn("list nodes from cache", "err", err)
		return
	}
	for _, p := range terminatedOverThreshold(pods, c.o.TerminatedPodThreshold) {
		c.delete(ctx, p, nil, "terminated pods over threshold")
	}
	for _, p := range outOfService(pods, nodes) {
		c.delete(ctx, p, nil, "terminating on an out-of-service node")
	}
	gone := c.deletedNodes(ctx, pods, nodes)
	for _, p := range pods {
		if gone[p.Spec.NodeName] {
			c.delete(ctx, p, &corev1.PodCondition{
				Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
				Reason: "DeletionByPodGC", Message: "PodGC: node no longer exists",
			}, "node no longer exists")
		}
	}
	for _, p := range pods {
		if p.DeletionTimestamp != nil && p.Spec.NodeName == "" {
			c.delete(ctx, p, nil, "terminating and never scheduled")
		}
	}
}

func terminated(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// terminatedOverThreshold: the terminated pods beyond the threshold,
// evicted ones first, then the oldest.
func terminatedOverThreshold(pods []*corev1.Pod, threshold int) []*corev1.Pod {
	if threshold <= 0 {
		return nil
	}
	var done []*corev1.Pod
	for _, p := range pods {
		if terminated(p) {
			done = append(done, p)
		}
	}
	if len(done) <= threshold {
		return nil
	}
	evicted := func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "Evicted" }
	sort.SliceStable(done, func(i, j int) bool {
		a, b := done[i], done[j]
		if evicted(a) != evicted(b) {
			return evicted(a)
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	return done[:len(done)-threshold]
}

// outOfService: terminating pods on a node that is not ready and that an
// administrator tainted node.kubernetes.io/out-of-service ("this node is
// down for good, let its pods go": how a StatefulSet pod on a dead node
// gets replaced).
func outOfService(pods []*corev1.Pod, nodes []*corev1.Node) []*corev1.Pod {
	down := map[string]bool{}
	for _, n := range nodes {
		if !nodeReady(n) && hasTaintKey(n.Spec.Taints, corev1.TaintNodeOutOfService) {
			down[n.Name] = true
		}
	}
	var out []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp != nil && down[p.Spec.NodeName] {
			out = append(out, p)
		}
	}
	return out
}

// deletedNodes: nodes that pods are bound to, missing from the cache for
// the quarantine period and confirmed gone by a live GET.
func (c *Controller) deletedNodes(ctx context.Context, pods []*corev1.Pod, nodes []*corev1.Node) map[string]bool {
	exists := map[string]bool{}
	for _, n := range nodes {
		exists[n.Name] = true
	}
	now := c.clock.Now()
	c.mu.Lock()
	named := map[string]bool{}
	for _, p := range pods {
		if name := p.Spec.NodeName; name != "" && !exists[name] {
			named[name] = true
			if _, ok := c.missingSince[name]; !ok {
				c.missingSince[name] = now
			}
		}
	}
	var due []string
	for name, since := range c.missingSince {
		switch {
		case !named[name]:
			delete(c.missingSince, name) // the node came, or its pods went
		case now.Sub(since) >= c.o.Quarantine:
			due = append(due, name)
		}
	}
	c.mu.Unlock()

	gone := map[string]bool{}
	for _, name := range due {
		_, err := c.kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			gone[name] = true
		case err != nil:
			slog.Warn("check whether node exists", "node", name, "err", err)
		default:
			c.mu.Lock()
			delete(c.missingSince, name) // our cache was just late
			c.mu.Unlock()
		}
	}
	return gone
}

// delete marks an unfinished pod Failed (with cond, if any) and deletes
// it with grace period 0 (upstream markFailedAndDeletePodWithCondition).
func (c *Controller) delete(ctx context.Context, p *corev1.Pod, cond *corev1.PodCondition, why string) {
	key := p.Namespace + "/" + p.Name
	slog.Info("garbage collecting pod", "pod", key, "node", p.Spec.NodeName, "reason", why)
	if !terminated(p) {
		if err := c.markFailed(ctx, p, cond); err != nil {
			slog.Warn("mark pod failed", "pod", key, "err", err)
			return
		}
	}
	zero := int64(0)
	err := c.kube.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil && !apierrors.IsNotFound(err) {
		slog.Warn("delete pod", "pod", key, "err", err)
	}
}

func (c *Controller) markFailed(ctx context.Context, p *corev1.Pod, cond *corev1.PodCondition) error {
	status := map[string]any{"phase": corev1.PodFailed}
	if cond != nil {
		withTime := *cond
		withTime.LastTransitionTime = metav1.NewTime(c.clock.Now())
		status["conditions"] = []corev1.PodCondition{withTime}
	}
	patch, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return fmt.Errorf("encode status patch: %w", err)
	}
	_, err = c.kube.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("mark pod %s/%s failed: %w", p.Namespace, p.Name, err)
	}
	return nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func hasTaintKey(taints []corev1.Taint, key string) bool {
	for _, t := range taints {
		if t.Key == key {
			return true
		}
	}
	return false
}
