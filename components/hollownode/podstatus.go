package hollownode

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Condition reasons the kubelet uses (pkg/kubelet/status/generate.go).
const (
	reasonPodCompleted       = "PodCompleted"
	reasonPodFailed          = "PodFailed"
	reasonContainersNotReady = "ContainersNotReady"
	reasonGatesNotReady      = "ReadinessGatesNotReady"
)

// timing is how long the fake containers take.
type timing struct {
	startupDelay time.Duration // bound → Running
	jobDuration  time.Duration // Running → exited, for pods that run to completion
}

// runsToCompletion: pods whose containers are not restarted after a success
// (Job pods) exit after the job duration; the others run until deleted.
func runsToCompletion(pod *corev1.Pod) bool {
	return pod.Spec.RestartPolicy == corev1.RestartPolicyNever || pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure
}

// nextStatus decides what a kubelet would write for a pod that is neither
// terminal nor being deleted: the new status (nil: nothing to write) and
// when to look again (0: only when the pod changes).
func nextStatus(pod *corev1.Pod, hostIP string, podIPs []string, t timing, now time.Time) (*corev1.PodStatus, time.Duration) {
	ts := metav1.NewTime(now).Rfc3339Copy()
	if pod.Status.Phase != corev1.PodRunning {
		if ready := boundAt(pod).Add(t.startupDelay); now.Before(ready) {
			return nil, ready.Sub(now)
		}
		st := runningStatus(pod, hostIP, podIPs, ts)
		if runsToCompletion(pod) {
			return &st, t.jobDuration
		}
		return &st, 0
	}
	var after time.Duration
	if runsToCompletion(pod) {
		end := runningSince(pod).Add(t.jobDuration)
		if !now.Before(end) {
			st := finishedStatus(pod, ts)
			if st.Phase == corev1.PodRunning { // restarted (OnFailure)
				return &st, t.jobDuration
			}
			return &st, 0
		}
		after = end.Sub(now)
	}
	want := runningStatus(pod, hostIP, podIPs, ts)
	if equality.Semantic.DeepEqual(want, pod.Status) {
		return nil, after
	}
	return &want, after
}

// boundAt is when the pod landed on its node: the scheduler's PodScheduled
// transition, or its creation for pods created with spec.nodeName.
func boundAt(pod *corev1.Pod) time.Time {
	if c := condition(pod.Status.Conditions, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionTrue && !c.LastTransitionTime.IsZero() {
		return c.LastTransitionTime.Time
	}
	return pod.CreationTimestamp.Time
}

// runningSince is when the current run of the containers started.
func runningSince(pod *corev1.Pod) time.Time {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Running != nil {
			return cs.State.Running.StartedAt.Time
		}
	}
	if pod.Status.StartTime != nil {
		return pod.Status.StartTime.Time
	}
	return pod.CreationTimestamp.Time
}

// exitCode is what the pod's containers exit with: the exit-code annotation,
// else 0. A malformed annotation counts as 1, a failure the user will see.
func exitCode(pod *corev1.Pod) int32 {
	v, ok := pod.Annotations[AnnotationExitCode]
	if !ok {
		return 0
	}
	code, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 1
	}
	return int32(code)
}

func hollowIDs(pod *corev1.Pod, c *corev1.Container) (imageID, containerID string) {
	return "hollow://" + c.Image, "hollow://" + string(pod.UID) + "/" + c.Name
}

// runningStatus is the status of a pod whose containers run: init containers
// completed (sidecars running), every container running and ready unless the
// not-ready annotation says otherwise. Times already in the status are kept,
// so that computing it again gives the same status.
func runningStatus(pod *corev1.Pod, hostIP string, podIPs []string, now metav1.Time) corev1.PodStatus {
	old := pod.Status
	st := corev1.PodStatus{
		Phase:              corev1.PodRunning,
		HostIP:             hostIP,
		HostIPs:            []corev1.HostIP{{IP: hostIP}},
		StartTime:          old.StartTime,
		QOSClass:           old.QOSClass,
		NominatedNodeName:  old.NominatedNodeName,
		ObservedGeneration: pod.Generation,
	}
	if len(podIPs) > 0 {
		st.PodIP = podIPs[0]
		for _, ip := range podIPs {
			st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: ip})
		}
	}
	if st.StartTime == nil {
		st.StartTime = &now
	}
	ready := pod.Annotations[AnnotationNotReady] != "true"
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if ptr.Deref(c.RestartPolicy, "") == corev1.ContainerRestartPolicyAlways { // a sidecar runs beside the others
			st.InitContainerStatuses = append(st.InitContainerStatuses, running(pod, c, old.InitContainerStatuses, *st.StartTime, ready))
			continue
		}
		imageID, id := hollowIDs(pod, c)
		st.InitContainerStatuses = append(st.InitContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: imageID, ContainerID: id, Ready: true, Started: ptr.To(false),
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				Reason: "Completed", StartedAt: *st.StartTime, FinishedAt: *st.StartTime, ContainerID: id,
			}},
		})
	}
	for i := range pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, running(pod, &pod.Spec.Containers[i], old.ContainerStatuses, *st.StartTime, ready))
	}
	// The kubelet sorts container statuses by name, for a stable order.
	slices.SortFunc(st.ContainerStatuses, func(a, b corev1.ContainerStatus) int { return cmp.Compare(a.Name, b.Name) })
	st.Conditions = podConditions(pod, st, now)
	return st
}

// running is a running container's status, keeping its start time and
// restart history when it already runs.
func running(pod *corev1.Pod, c *corev1.Container, old []corev1.ContainerStatus, start metav1.Time, ready bool) corev1.ContainerStatus {
	imageID, id := hollowIDs(pod, c)
	cs := corev1.ContainerStatus{
		Name: c.Name, Image: c.Image, ImageID: imageID, ContainerID: id, Ready: ready, Started: ptr.To(true),
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}},
	}
	if prev := containerStatus(old, c.Name); prev != nil && prev.State.Running != nil {
		cs.State.Running.StartedAt = prev.State.Running.StartedAt
		cs.RestartCount = prev.RestartCount
		cs.LastTerminationState = prev.LastTerminationState
	}
	return cs
}

// finishedStatus is the status once the containers exited: Succeeded on
// exit 0, Failed otherwise — except that with restartPolicy OnFailure a
// failed container is restarted (the pod stays Running, restartCount grows).
func finishedStatus(pod *corev1.Pod, now metav1.Time) corev1.PodStatus {
	code := exitCode(pod)
	st := *pod.Status.DeepCopy()
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	exited := func(cs *corev1.ContainerStatus) corev1.ContainerStateTerminated {
		started := now
		if cs.State.Running != nil {
			started = cs.State.Running.StartedAt
		}
		return corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, StartedAt: started, FinishedAt: now, ContainerID: cs.ContainerID}
	}
	if code != 0 && pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure {
		for i := range st.ContainerStatuses {
			cs := &st.ContainerStatuses[i]
			term := exited(cs)
			cs.LastTerminationState = corev1.ContainerState{Terminated: &term}
			cs.RestartCount++
			cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
		}
		return st
	}
	st.Phase = corev1.PodSucceeded
	if code != 0 {
		st.Phase = corev1.PodFailed
	}
	for _, list := range [][]corev1.ContainerStatus{st.ContainerStatuses, st.InitContainerStatuses} {
		for i := range list {
			cs := &list[i]
			if cs.State.Running == nil {
				continue // completed init containers stay as they are
			}
			term := exited(cs)
			cs.State = corev1.ContainerState{Terminated: &term}
			cs.Ready, cs.Started = false, ptr.To(false)
		}
	}
	st.Conditions = podConditions(pod, st, now)
	return st
}

// podConditions computes the kubelet's conditions for status st, in the
// kubelet's order, keeping conditions other components own (PodScheduled,
// readiness gates, DisruptionTarget) and unchanged transition times.
func podConditions(pod *corev1.Pod, st corev1.PodStatus, now metav1.Time) []corev1.PodCondition {
	old := pod.Status.Conditions
	terminal := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed
	sandbox := corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionTrue}
	initialized := corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}
	containers := corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}
	switch st.Phase {
	case corev1.PodSucceeded:
		sandbox.Status = corev1.ConditionFalse
		initialized.Reason = reasonPodCompleted
		containers.Status, containers.Reason = corev1.ConditionFalse, reasonPodCompleted
	case corev1.PodFailed:
		sandbox.Status = corev1.ConditionFalse
		containers.Status, containers.Reason = corev1.ConditionFalse, reasonPodFailed
	default:
		var unready []string
		for _, cs := range st.ContainerStatuses {
			if !cs.Ready {
				unready = append(unready, cs.Name)
			}
		}
		if len(unready) > 0 {
			containers.Status, containers.Reason = corev1.ConditionFalse, reasonContainersNotReady
			containers.Message = fmt.Sprintf("containers with unready status: %s", unready)
		}
	}
	ready := containers
	ready.Type = corev1.PodReady
	if ready.Status == corev1.ConditionTrue && !terminal {
		var msgs []string
		for _, gate := range pod.Spec.ReadinessGates {
			switch c := condition(old, gate.ConditionType); {
			case c == nil:
				msgs = append(msgs, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", gate.ConditionType))
			case c.Status != corev1.ConditionTrue:
				msgs = append(msgs, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", gate.ConditionType, c.Status))
			}
		}
		if len(msgs) > 0 {
			ready.Status, ready.Reason = corev1.ConditionFalse, reasonGatesNotReady
			ready.Message = strings.Join(msgs, ", ")
		}
	}
	scheduled := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}
	if c := condition(old, corev1.PodScheduled); c != nil {
		scheduled = *c
	}
	out := []corev1.PodCondition{sandbox, initialized, ready, containers}
	for i := range out {
		out[i].ObservedGeneration = pod.Generation
		out[i].LastTransitionTime = now
		if c := condition(old, out[i].Type); c != nil && c.Status == out[i].Status {
			out[i].LastTransitionTime = c.LastTransitionTime
		}
	}
	if scheduled.LastTransitionTime.IsZero() {
		scheduled.LastTransitionTime = now
	}
	out = append(out, scheduled)
	for _, c := range old {
		if condition(out, c.Type) == nil {
			out = append(out, c)
		}
	}
	return out
}

func condition(conds []corev1.PodCondition, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

func containerStatus(list []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}
