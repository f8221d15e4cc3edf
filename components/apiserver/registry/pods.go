package registry

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// PodHooks: a new pod is Pending with its QoS class computed, and deleting
// a pod that runs on a node is graceful: the API server only sets
// deletionTimestamp (now + grace period); the kubelet stops the containers
// (TERM, wait, KILL) and then deletes the pod for real with grace period 0.
// A pod no kubelet runs (unscheduled, or finished) goes at once.
func PodHooks() Hooks {
	return Hooks{
		PrepareCreate: func(obj runtime.Object) {
			pod := obj.(*corev1.Pod)
			// spec.nodeName may already be set (static placement, DaemonSets):
			// such a pod skips the scheduler.
			pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: QOSClass(pod)}
		},
		BeforeDelete: func(obj runtime.Object, opts *metav1.DeleteOptions, now time.Time) (bool, error) {
			pod := obj.(*corev1.Pod)
			if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
				return false, nil
			}
			grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
			if pod.Spec.TerminationGracePeriodSeconds != nil {
				grace = *pod.Spec.TerminationGracePeriodSeconds
			}
			if opts.GracePeriodSeconds != nil {
				grace = *opts.GracePeriodSeconds
			}
			if grace <= 0 {
				return false, nil // --grace-period=0 --force: remove now
			}
			if pod.DeletionGracePeriodSeconds != nil && *pod.DeletionGracePeriodSeconds <= grace {
				return true, nil // already terminating at least this fast
			}
			at := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
			pod.DeletionTimestamp = &at
			pod.DeletionGracePeriodSeconds = &grace
			return true, nil
		},
	}
}

// QOSClass computes a pod's quality-of-service class from its containers'
// requests and limits, the way the kubelet uses it for eviction order:
// Guaranteed (every container limits = requests for cpu and memory),
// BestEffort (no requests or limits at all), else Burstable.
func QOSClass(pod *corev1.Pod) corev1.PodQOSClass {
	containers := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	requested, guaranteed := false, true
	for _, c := range containers {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[name]
			lim, hasLim := c.Resources.Limits[name]
			if hasReq || hasLim {
				requested = true
			}
			if !hasLim || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !requested:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}
