package nodelifecycle

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// markPodsNotReady sets Ready=False on every pod of a node that stopped
// talking (upstream MarkPodsNotReady). Its kubelet cannot say so any
// more, and a pod that is not Ready leaves its Services' endpoints, so
// traffic stops going to a node that may be gone, long before the pods
// are evicted.
func (c *Controller) markPodsNotReady(ctx context.Context, nodeName string) error {
	objs, err := c.podsByNode.ByIndex(NodeNameIndex, nodeName)
	if err != nil {
		return fmt.Errorf("pods on node %s: %w", nodeName, err)
	}
	var errs []error
	for _, obj := range objs {
		if pod, ok := obj.(*corev1.Pod); ok {
			errs = append(errs, c.markPodNotReady(ctx, pod))
		}
	}
	return errors.Join(errs...)
}

// markPodNotReady flips one pod's Ready condition to False.
func (c *Controller) markPodNotReady(ctx context.Context, cached *corev1.Pod) error {
	pod := cached.DeepCopy()
	i := podConditionIndex(pod, corev1.PodReady)
	if i < 0 || pod.Status.Conditions[i].Status == corev1.ConditionFalse {
		return nil
	}
	pod.Status.Conditions[i].Status = corev1.ConditionFalse
	pod.Status.Conditions[i].LastTransitionTime = metav1.NewTime(c.clock.Now())
	_, err := c.kube.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mark pod %s/%s not ready: %w", pod.Namespace, pod.Name, err)
	}
	c.recorder.Event(pod, corev1.EventTypeWarning, "NodeNotReady", "Node is not ready")
	return nil
}

func podConditionIndex(pod *corev1.Pod, t corev1.PodConditionType) int {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return i
		}
	}
	return -1
}

// syncPod marks a pod not ready when its node is not ready (a pod that
// appeared or changed after the node went down).
func (c *Controller) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if err != nil || pod.Spec.NodeName == "" {
		return nil
	}
	node, err := c.nodes.Get(pod.Spec.NodeName)
	if err != nil || condition(node.Status.Conditions, corev1.NodeReady) == nil || readyStatus(node) == corev1.ConditionTrue {
		return nil
	}
	return c.markPodNotReady(ctx, pod)
}
