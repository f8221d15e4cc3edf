package podstatus

import (
	"sort"

	"github.com/kubelab/kubelab/components/kubelet/runtime"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// isSidecar reports a restartable init container (restartPolicy: Always):
// it starts in init order but then keeps running beside the app containers.
func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// latestFirst returns the runtime records of one pod grouped by container
// name, newest attempt first.
func latestFirst(records []runtime.ContainerStatus) map[string][]runtime.ContainerStatus {
	byName := map[string][]runtime.ContainerStatus{}
	for _, r := range records {
		byName[r.Name] = append(byName[r.Name], r)
	}
	for _, rs := range byName {
		sort.SliceStable(rs, func(i, j int) bool {
			if rs[i].Attempt != rs[j].Attempt {
				return rs[i].Attempt > rs[j].Attempt
			}
			return rs[i].CreatedAt.After(rs[j].CreatedAt)
		})
	}
	return byName
}

// containerStatuses builds the API statuses of one list of containers
// (spec.containers or spec.initContainers) in spec order, following
// upstream convertToAPIContainerStatuses: a default waiting state, then the
// newest runtime record as State and the one before as
// LastTerminationState, then the kubelet's waiting reason for containers
// that will be (re)started.
func containerStatuses(in *Input, specs []corev1.Container, old []corev1.ContainerStatus, isInit bool, records map[string][]runtime.ContainerStatus) []corev1.ContainerStatus {
	if len(specs) == 0 {
		return nil
	}
	oldByName := map[string]corev1.ContainerStatus{}
	for _, s := range old {
		oldByName[s.Name] = s
	}
	defaultReason := ReasonContainerCreating
	if len(in.Pod.Spec.InitContainers) > 0 {
		defaultReason = ReasonPodInitializing
	}

	out := make([]corev1.ContainerStatus, 0, len(specs))
	for i := range specs {
		spec := &specs[i]
		st := corev1.ContainerStatus{
			Name:  spec.Name,
			Image: spec.Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: defaultReason}},
		}
		if o, ok := oldByName[spec.Name]; ok {
			if o.State.Terminated != nil {
				// A terminated container whose record is gone (garbage
				// collected) keeps its last known state.
				st = *o.DeepCopy()
			} else {
				st.RestartCount = o.RestartCount
				st.LastTerminationState = *o.LastTerminationState.DeepCopy()
			}
		}

		rs := records[spec.Name]
		if len(rs) > 0 {
			apiFromRecord(&st, rs[0])
		}
		if len(rs) > 1 {
			prev := corev1.ContainerStatus{}
			apiFromRecord(&prev, rs[1])
			st.LastTerminationState = prev.State
		}

		if w, ok := in.Waiting[spec.Name]; ok && !initSucceeded(isInit, spec, rs) && shouldRestart(in.Pod, spec, isInit, rs) {
			if st.State.Terminated != nil {
				st.LastTerminationState = st.State
			}
			st.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: w.Reason, Message: w.Message}}
		}

		setReadiness(in, spec, isInit, &st)
		out = append(out, st)
	}
	return out
}

// apiFromRecord copies one runtime record into an API status.
func apiFromRecord(st *corev1.ContainerStatus, r runtime.ContainerStatus) {
	id := ContainerIDPrefix + r.ID
	st.ContainerID = id
	if r.Image != "" {
		st.Image = r.Image
	}
	st.ImageID = r.ImageID
	st.RestartCount = int32(r.Attempt)
	switch r.State {
	case runtime.StateRunning:
		st.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(r.StartedAt)}}
	case runtime.StateExited:
		reason := r.Reason
		if reason == "" {
			reason = "Error"
			if r.ExitCode == 0 {
				reason = "Completed"
			}
		}
		st.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode:    int32(r.ExitCode),
			Reason:      reason,
			Message:     r.Message,
			StartedAt:   metav1.NewTime(r.StartedAt),
			FinishedAt:  metav1.NewTime(r.FinishedAt),
			ContainerID: id,
		}}
	case runtime.StateUnknown:
		// Upstream reports a container it lost track of as killed.
		msg := r.Message
		if msg == "" {
			msg = "The container could not be located when the pod was terminated"
		}
		st.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode:    137,
			Reason:      "ContainerStatusUnknown",
			Message:     msg,
			StartedAt:   metav1.NewTime(r.StartedAt),
			FinishedAt:  metav1.NewTime(r.FinishedAt),
			ContainerID: id,
		}}
	default: // created, not yet started
		st.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{}}
	}
}

// initSucceeded: a regular init container that exited 0 is never restarted,
// so no waiting reason may hide its success.
func initSucceeded(isInit bool, spec *corev1.Container, rs []runtime.ContainerStatus) bool {
	return isInit && !isSidecar(spec) && len(rs) > 0 && rs[0].State == runtime.StateExited && rs[0].ExitCode == 0
}

// shouldRestart is upstream ShouldContainerBeRestarted: will the kubelet
// start this container (again) on its next sync?
func shouldRestart(pod *corev1.Pod, spec *corev1.Container, isInit bool, rs []runtime.ContainerStatus) bool {
	if pod.DeletionTimestamp != nil {
		return false
	}
	if len(rs) == 0 {
		return true
	}
	switch rs[0].State {
	case runtime.StateRunning:
		return false
	case runtime.StateUnknown, runtime.StateCreated:
		return true
	}
	if isInit && isSidecar(spec) {
		return true
	}
	switch pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return rs[0].ExitCode != 0
	}
	if isInit {
		// Init containers of an Always pod are retried only on failure.
		return rs[0].ExitCode != 0
	}
	return true
}

// setReadiness fills Ready and Started the way the upstream prober manager
// does (UpdatePodStatus).
func setReadiness(in *Input, spec *corev1.Container, isInit bool, st *corev1.ContainerStatus) {
	running := st.State.Running != nil
	p, known := in.Probes[spec.Name]
	if !known {
		p = Probe{Started: spec.StartupProbe == nil}
		p.Ready = p.Started && spec.ReadinessProbe == nil
	}
	started := running && p.Started
	st.Started = &started
	if isInit && !isSidecar(spec) {
		// A regular init container is "ready" once it has succeeded.
		st.Ready = st.State.Terminated != nil && st.State.Terminated.ExitCode == 0
		return
	}
	st.Ready = started && p.Ready
}
