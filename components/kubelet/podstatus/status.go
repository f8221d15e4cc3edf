package podstatus

import (
	"github.com/kubelab/kubelab/components/kubelet/runtime"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Compute builds the complete status the kubelet reports for in.Pod.
func Compute(in Input) corev1.PodStatus {
	pod := in.Pod
	old := in.old()
	records := latestFirst(podRecords(in))

	initStatuses := containerStatuses(&in, pod.Spec.InitContainers, old.InitContainerStatuses, true, records)
	statuses := containerStatuses(&in, pod.Spec.Containers, old.ContainerStatuses, false, records)

	phase := Phase(pod, initStatuses, statuses, in.Terminal, anyAppContainerStarted(statuses))
	// A terminal phase is final: never regress from Succeeded/Failed.
	if phase != corev1.PodFailed && phase != corev1.PodSucceeded {
		if old.Phase == corev1.PodFailed || old.Phase == corev1.PodSucceeded {
			phase = old.Phase
		}
	}
	if phase == corev1.PodFailed || phase == corev1.PodSucceeded {
		// Nothing in a finished pod serves traffic.
		unready(statuses)
		for i := range pod.Spec.InitContainers {
			if isSidecar(&pod.Spec.InitContainers[i]) {
				unready(initStatuses[i : i+1])
			}
		}
	}

	st := corev1.PodStatus{
		Phase:                 phase,
		Reason:                old.Reason,
		Message:               old.Message,
		NominatedNodeName:     old.NominatedNodeName,
		QOSClass:              QOSClass(pod),
		InitContainerStatuses: initStatuses,
		ContainerStatuses:     statuses,
		ObservedGeneration:    pod.Generation,
		StartTime:             old.StartTime,
	}
	if st.StartTime == nil {
		t := metav1.NewTime(in.Now)
		st.StartTime = &t
	}
	for _, ip := range in.PodIPs {
		st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(in.PodIPs) > 0 {
		st.PodIP = in.PodIPs[0]
	}
	for _, ip := range in.HostIPs {
		st.HostIPs = append(st.HostIPs, corev1.HostIP{IP: ip})
	}
	if len(in.HostIPs) > 0 {
		st.HostIP = in.HostIPs[0]
	}

	containersReady := containersReadyCondition(&pod.Spec, initStatuses, statuses, phase)
	owned := []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, in.SandboxReady, "", ""),
		initializedCondition(&pod.Spec, initStatuses, statuses, phase),
		readyCondition(&pod.Spec, old.Conditions, containersReady),
		containersReady,
	}
	for _, c := range owned {
		c.ObservedGeneration = pod.Generation
		c.LastTransitionTime = metav1.NewTime(in.Now)
		for _, o := range old.Conditions {
			if o.Type == c.Type && o.Status == c.Status && !o.LastTransitionTime.IsZero() {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		st.Conditions = append(st.Conditions, c)
	}
	// Conditions owned by others (PodScheduled from the scheduler, readiness
	// gates from controllers, DisruptionTarget) follow, unchanged.
	for _, o := range old.Conditions {
		if !kubeletOwned[o.Type] {
			st.Conditions = append(st.Conditions, *o.DeepCopy())
		}
	}
	return st
}

func unready(statuses []corev1.ContainerStatus) {
	for i := range statuses {
		statuses[i].Ready = false
		f := false
		statuses[i].Started = &f
	}
}

// podRecords keeps the runtime records that belong to this pod (a caller
// may pass the node's whole list).
func podRecords(in Input) []runtime.ContainerStatus {
	uid := string(in.Pod.UID)
	var out []runtime.ContainerStatus
	for _, r := range in.Containers {
		if r.PodUID == "" || uid == "" || r.PodUID == uid {
			out = append(out, r)
		}
	}
	return out
}
