package podstatus

import corev1 "k8s.io/api/core/v1"

// QOSClass computes the pod's quality-of-service class with the upstream
// rules (pkg/apis/core/v1/helper/qos): only cpu and memory count; requests
// and limits are summed over init and app containers (or taken from
// pod-level spec.resources when set); a pod is Guaranteed when every
// container limits both cpu and memory and the summed requests equal the
// summed limits, BestEffort when nothing is requested or limited, and
// Burstable otherwise.
//
// Requests default to limits in API defaulting; this function does not do
// that defaulting itself, exactly like upstream.
func QOSClass(pod *corev1.Pod) corev1.PodQOSClass {
	requests := corev1.ResourceList{}
	limits := corev1.ResourceList{}
	guaranteed := true

	if pod.Spec.Resources != nil {
		// Pod-level resources replace the per-container view.
		addPositive(requests, pod.Spec.Resources.Requests)
		found := addPositive(limits, pod.Spec.Resources.Limits)
		if !found[corev1.ResourceCPU] || !found[corev1.ResourceMemory] {
			guaranteed = false
		}
	} else {
		all := append(append([]corev1.Container{}, pod.Spec.Containers...), pod.Spec.InitContainers...)
		for _, c := range all {
			addPositive(requests, c.Resources.Requests)
			found := addPositive(limits, c.Resources.Limits)
			if !found[corev1.ResourceCPU] || !found[corev1.ResourceMemory] {
				guaranteed = false
			}
		}
	}

	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
				break
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// addPositive adds the positive cpu/memory quantities of in to sum and
// reports which resources it found.
func addPositive(sum, in corev1.ResourceList) map[corev1.ResourceName]bool {
	found := map[corev1.ResourceName]bool{}
	for name, q := range in {
		if name != corev1.ResourceCPU && name != corev1.ResourceMemory {
			continue
		}
		if q.Sign() <= 0 {
			continue
		}
		found[name] = true
		total := q.DeepCopy()
		if prev, ok := sum[name]; ok {
			total.Add(prev)
		}
		sum[name] = total
	}
	return found
}
