package podstatus

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Condition reasons, as upstream (pkg/kubelet/status/generate.go).
const (
	ReasonUnknownContainerStatuses = "UnknownContainerStatuses"
	ReasonPodCompleted             = "PodCompleted"
	ReasonContainersNotReady       = "ContainersNotReady"
	ReasonContainersNotInitialized = "ContainersNotInitialized"
	ReasonReadinessGatesNotReady   = "ReadinessGatesNotReady"
)

// kubeletOwned are the conditions the kubelet computes; every other
// condition (PodScheduled, DisruptionTarget, readiness gates) is carried
// over from the old status untouched.
var kubeletOwned = map[corev1.PodConditionType]bool{
	corev1.PodReadyToStartContainers: true,
	corev1.PodInitialized:            true,
	corev1.PodReady:                  true,
	corev1.ContainersReady:           true,
	corev1.PodResizePending:          true,
	corev1.PodResizeInProgress:       true,
}

func cond(t corev1.PodConditionType, ok bool, reason, message string) corev1.PodCondition {
	s := corev1.ConditionFalse
	if ok {
		s = corev1.ConditionTrue
	}
	return corev1.PodCondition{Type: t, Status: s, Reason: reason, Message: message}
}

// anyAppContainerStarted: an app container that ever ran proves the pod was
// initialized, even if init statuses were lost.
func anyAppContainerStarted(statuses []corev1.ContainerStatus) bool {
	for _, s := range statuses {
		if s.State.Running != nil || s.State.Terminated != nil || s.LastTerminationState.Terminated != nil {
			return true
		}
	}
	return false
}

// initializedCondition is upstream GeneratePodInitializedCondition.
func initializedCondition(spec *corev1.PodSpec, initStatuses, statuses []corev1.ContainerStatus, phase corev1.PodPhase) corev1.PodCondition {
	var unknown, incomplete []string
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		s, ok := statusOf(initStatuses, c.Name)
		if !ok {
			unknown = append(unknown, c.Name)
			continue
		}
		if isSidecar(c) {
			if s.Started == nil || !*s.Started {
				incomplete = append(incomplete, c.Name)
			}
			continue
		}
		if !s.Ready {
			incomplete = append(incomplete, c.Name)
		}
	}
	if phase == corev1.PodSucceeded && len(unknown) == 0 {
		return cond(corev1.PodInitialized, true, ReasonPodCompleted, "")
	}
	if anyAppContainerStarted(statuses) {
		return cond(corev1.PodInitialized, true, "", "")
	}
	var msgs []string
	if len(unknown) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with unknown status: %s", unknown))
	}
	if len(incomplete) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with incomplete status: %s", incomplete))
	}
	if len(msgs) > 0 {
		return cond(corev1.PodInitialized, false, ReasonContainersNotInitialized, strings.Join(msgs, ", "))
	}
	return cond(corev1.PodInitialized, true, "", "")
}

// containersReadyCondition is upstream GenerateContainersReadyCondition.
// Sidecars count like app containers.
func containersReadyCondition(spec *corev1.PodSpec, initStatuses, statuses []corev1.ContainerStatus, phase corev1.PodPhase) corev1.PodCondition {
	var unknown, unready []string
	check := func(name string, list []corev1.ContainerStatus) {
		s, ok := statusOf(list, name)
		switch {
		case !ok:
			unknown = append(unknown, name)
		case !s.Ready:
			unready = append(unready, name)
		}
	}
	for i := range spec.InitContainers {
		if isSidecar(&spec.InitContainers[i]) {
			check(spec.InitContainers[i].Name, initStatuses)
		}
	}
	for i := range spec.Containers {
		check(spec.Containers[i].Name, statuses)
	}
	if phase == corev1.PodSucceeded && len(unknown) == 0 {
		return cond(corev1.ContainersReady, false, ReasonPodCompleted, "")
	}
	var msgs []string
	if len(unknown) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with unknown status: %s", unknown))
	}
	if len(unready) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with unready status: %s", unready))
	}
	if len(msgs) > 0 {
		return cond(corev1.ContainersReady, false, ReasonContainersNotReady, strings.Join(msgs, ", "))
	}
	return cond(corev1.ContainersReady, true, "", "")
}

// readyCondition is upstream GeneratePodReadyCondition: ContainersReady
// plus every readiness gate's condition being True.
func readyCondition(spec *corev1.PodSpec, conditions []corev1.PodCondition, containersReady corev1.PodCondition) corev1.PodCondition {
	if containersReady.Status != corev1.ConditionTrue {
		return cond(corev1.PodReady, false, containersReady.Reason, containersReady.Message)
	}
	var msgs []string
	for _, g := range spec.ReadinessGates {
		var found *corev1.PodCondition
		for i := range conditions {
			if conditions[i].Type == g.ConditionType {
				found = &conditions[i]
				break
			}
		}
		switch {
		case found == nil:
			msgs = append(msgs, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", string(g.ConditionType)))
		case found.Status != corev1.ConditionTrue:
			msgs = append(msgs, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", string(g.ConditionType), found.Status))
		}
	}
	if len(msgs) > 0 {
		return cond(corev1.PodReady, false, ReasonReadinessGatesNotReady, strings.Join(msgs, ", "))
	}
	return cond(corev1.PodReady, true, "", "")
}
