package podstatus

import corev1 "k8s.io/api/core/v1"

// statusOf finds a container's status by name.
func statusOf(statuses []corev1.ContainerStatus, name string) (corev1.ContainerStatus, bool) {
	for _, s := range statuses {
		if s.Name == name {
			return s, true
		}
	}
	return corev1.ContainerStatus{}, false
}

// Phase is upstream getPhase: the pod's phase from its container statuses.
//
// Regular init containers must all succeed before the pod leaves Pending;
// a failed one fails a restartPolicy=Never pod. Sidecars must have started
// unless the pod was already initialized (a kubelet restart must not push a
// running pod back to Pending). Then: any app container waiting → Pending;
// any running → Running; all stopped → Running if they will be restarted,
// else Succeeded (all exit 0) or Failed.
func Phase(pod *corev1.Pod, initStatuses, statuses []corev1.ContainerStatus, terminal, initialized bool) corev1.PodPhase {
	spec := &pod.Spec
	pendingSidecars, pendingInit, failedInit := 0, 0, 0
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		s, ok := statusOf(initStatuses, c.Name)
		if isSidecar(c) {
			if !ok || s.Started == nil || !*s.Started {
				pendingSidecars++
			}
			continue
		}
		if !ok {
			pendingInit++
			continue
		}
		switch {
		case s.State.Running != nil:
			pendingInit++
		case s.State.Terminated != nil:
			if s.State.Terminated.ExitCode != 0 {
				failedInit++
			}
		case s.State.Waiting != nil:
			if t := s.LastTerminationState.Terminated; t != nil {
				if t.ExitCode != 0 {
					failedInit++
				}
			} else {
				pendingInit++
			}
		default:
			pendingInit++
		}
	}

	unknown, running, waiting, stopped, succeeded := 0, 0, 0, 0, 0
	for i := range spec.Containers {
		s, ok := statusOf(statuses, spec.Containers[i].Name)
		if !ok {
			unknown++
			continue
		}
		switch {
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil:
			stopped++
			if s.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case s.State.Waiting != nil:
			if s.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waiting++
			}
		default:
			unknown++
		}
	}

	if failedInit > 0 && spec.RestartPolicy == corev1.RestartPolicyNever {
		return corev1.PodFailed
	}
	switch {
	case pendingInit > 0 || (pendingSidecars > 0 && !initialized):
		return corev1.PodPending
	case waiting > 0:
		return corev1.PodPending
	case running > 0 && unknown == 0:
		return corev1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if terminal {
			// Nothing will be restarted any more, whatever the policy.
			if stopped == succeeded {
				return corev1.PodSucceeded
			}
			return corev1.PodFailed
		}
		if spec.RestartPolicy == corev1.RestartPolicyAlways {
			return corev1.PodRunning // all containers are restarting
		}
		if stopped == succeeded {
			return corev1.PodSucceeded
		}
		if spec.RestartPolicy == corev1.RestartPolicyNever {
			return corev1.PodFailed
		}
		return corev1.PodRunning // OnFailure: the failed ones restart
	default:
		return corev1.PodPending
	}
}
