package tables

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// nodeLostReason is the status reason the node lifecycle controller sets on
// pods of a node that stopped answering; such pods print as "Unknown".
const nodeLostReason = "NodeLost"

var podPrinter = podTable{typed[corev1.Pod]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
		column("Status", "string", "The aggregate status of the containers in this pod."),
		column("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
		ageColumn(),
		wide("IP", "string", corev1.PodStatus{}.SwaggerDoc()["podIP"]),
		wide("Node", "string", corev1.PodSpec{}.SwaggerDoc()["nodeName"]),
		wide("Nominated Node", "string", corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"]),
		wide("Readiness Gates", "string", corev1.PodSpec{}.SwaggerDoc()["readinessGates"]),
	},
	cells: podCells,
}}

// podTable is the pod printer plus upstream's row conditions: a finished pod's
// row is marked Completed (reason Succeeded or Failed), which clients may use
// to dim or hide it.
type podTable struct {
	typed[corev1.Pod]
}

func (podTable) rowConditions(obj runtime.Object) []metav1.TableRowCondition {
	var phase corev1.PodPhase
	switch o := obj.(type) {
	case *corev1.Pod:
		phase = o.Status.Phase
	case runtime.Unstructured:
		s, _, _ := unstructured.NestedString(o.UnstructuredContent(), "status", "phase")
		phase = corev1.PodPhase(s)
	}
	switch phase {
	case corev1.PodSucceeded:
		return []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: string(phase), Message: "The pod has completed successfully."}}
	case corev1.PodFailed:
		return []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: string(phase), Message: "The pod failed."}}
	}
	return nil
}

func podCells(pod *corev1.Pod) []interface{} {
	s := summarizePod(pod)

	restarts := fmt.Sprint(s.restarts)
	if s.restarts != 0 && !s.lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", s.restarts, since(s.lastRestart))
	}

	podIP := pod.Status.PodIP
	if len(pod.Status.PodIPs) > 0 {
		podIP = pod.Status.PodIPs[0].IP // the primary IP of a dual-stack pod
	}

	return []interface{}{
		pod.Name,
		fmt.Sprintf("%d/%d", s.ready, s.total),
		s.reason,
		restarts,
		since(pod.CreationTimestamp),
		orNone(podIP),
		orNone(pod.Spec.NodeName),
		orNone(pod.Status.NominatedNodeName),
		readinessGates(pod),
	}
}

// podSummary is what the READY, STATUS and RESTARTS columns say about a pod.
type podSummary struct {
	ready, total int
	reason       string
	restarts     int
	lastRestart  metav1.Time
}

// summarizePod walks the container statuses the way upstream's printPod does.
// The STATUS column is not the pod phase: it is the most telling reason found
// while walking, in this order of precedence (later wins):
//
//  1. the phase, or status.reason when set (e.g. "Evicted");
//  2. "SchedulingGated" while scheduling gates hold the pod;
//  3. the first init container that is not done: "Init:2/3",
//     "Init:CrashLoopBackOff", "Init:Error", "Init:ExitCode:1";
//  4. once initialized, the waiting/terminated reason of the main
//     containers, walked from the last to the first so the first container
//     wins: "ContainerCreating", "CrashLoopBackOff", "Completed", "Error";
//  5. "Terminating" for a pod being deleted (or "Unknown" when its node is
//     lost).
func summarizePod(pod *corev1.Pod) podSummary {
	s := podSummary{total: len(pod.Spec.Containers)}
	s.reason = string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		s.reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			s.reason = corev1.PodReasonSchedulingGated
		}
	}

	// Sidecars (init containers with restartPolicy Always) keep running next
	// to the main containers, so they count towards READY.
	sidecars := map[string]bool{}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
			s.total++
		}
	}

	var sidecarRestarts int
	var lastSidecarRestart metav1.Time
	initializing := false
	for i, c := range pod.Status.InitContainerStatuses {
		s.restarts += int(c.RestartCount)
		latest(&s.lastRestart, c.LastTerminationState)
		if sidecars[c.Name] {
			sidecarRestarts += int(c.RestartCount)
			latest(&lastSidecarRestart, c.LastTerminationState)
		}
		switch {
		case c.State.Terminated != nil && c.State.Terminated.ExitCode == 0:
			continue // finished successfully
		case sidecars[c.Name] && c.Started != nil && *c.Started:
			if c.Ready {
				s.ready++
			}
			continue // a started sidecar does not block initialization
		case c.State.Terminated != nil:
			s.reason = "Init:" + terminatedReason(c.State.Terminated)
		case c.State.Waiting != nil && c.State.Waiting.Reason != "" && c.State.Waiting.Reason != "PodInitializing":
			s.reason = "Init:" + c.State.Waiting.Reason
		default:
			s.reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		initializing = true
		break
	}

	if !initializing || podInitialized(pod) {
		// Restarts of finished init containers no longer matter once the
		// pod runs; only sidecar restarts keep counting.
		s.restarts, s.lastRestart = sidecarRestarts, lastSidecarRestart
		hasRunning := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			c := pod.Status.ContainerStatuses[i]
			s.restarts += int(c.RestartCount)
			latest(&s.lastRestart, c.LastTerminationState)
			switch {
			case c.State.Waiting != nil && c.State.Waiting.Reason != "":
				s.reason = c.State.Waiting.Reason
			case c.State.Terminated != nil:
				s.reason = terminatedReason(c.State.Terminated)
			case c.Ready && c.State.Running != nil:
				hasRunning = true
				s.ready++
			}
		}
		// One container completed while another still runs: the pod as a
		// whole is running (or not ready yet), not "Completed".
		if s.reason == "Completed" && hasRunning {
			s.reason = "NotReady"
			if podReady(pod) {
				s.reason = "Running"
			}
		}
	}

	if pod.DeletionTimestamp != nil {
		if pod.Status.Reason == nodeLostReason {
			s.reason = "Unknown"
		} else if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			s.reason = "Terminating"
		}
	}
	return s
}

// terminatedReason is the container runtime's reason ("Completed", "Error",
// "OOMKilled"), or the signal or exit code when the runtime gave none.
func terminatedReason(t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Reason != "":
		return t.Reason
	case t.Signal != 0:
		return fmt.Sprintf("Signal:%d", t.Signal)
	default:
		return fmt.Sprintf("ExitCode:%d", t.ExitCode)
	}
}

// latest moves *last forward to the finish time of the previous run, if that
// is later; it feeds the "(5m ago)" part of RESTARTS.
func latest(last *metav1.Time, previous corev1.ContainerState) {
	if previous.Terminated == nil {
		return
	}
	if finished := previous.Terminated.FinishedAt; last.Before(&finished) {
		*last = finished
	}
}

func podInitialized(pod *corev1.Pod) bool {
	return podCondition(pod, corev1.PodInitialized) == corev1.ConditionTrue
}

func podReady(pod *corev1.Pod) bool {
	return podCondition(pod, corev1.PodReady) == corev1.ConditionTrue
}

func podCondition(pod *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

// readinessGates shows how many of the pod's extra readiness conditions are
// true, e.g. "1/2", or "<none>" when the pod declares none.
func readinessGates(pod *corev1.Pod) string {
	if len(pod.Spec.ReadinessGates) == 0 {
		return "<none>"
	}
	trueCount := 0
	for _, gate := range pod.Spec.ReadinessGates {
		if podCondition(pod, gate.ConditionType) == corev1.ConditionTrue {
			trueCount++
		}
	}
	return fmt.Sprintf("%d/%d", trueCount, len(pod.Spec.ReadinessGates))
}
