package job

import (
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// matchPodFailurePolicy applies spec.podFailurePolicy to a failed pod, rule
// by rule, first match wins (as upstream):
//   - FailJob: the Job fails now; returns the message for its condition.
//   - Ignore:  the failure does not count toward backoffLimit.
//   - Count:   the failure counts (also the default when no rule matches).
//
// It returns (failJob message or nil, whether the failure counts).
func matchPodFailurePolicy(policy *batchv1.PodFailurePolicy, pod *corev1.Pod) (*string, bool) {
	if policy == nil {
		return nil, true
	}
	for i, rule := range policy.Rules {
		var what string
		switch {
		case rule.OnExitCodes != nil:
			cs := matchExitCodes(&pod.Status, rule.OnExitCodes)
			if cs == nil {
				continue
			}
			what = fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
				cs.Name, pod.Namespace, pod.Name, cs.State.Terminated.ExitCode, rule.Action, i)
		case rule.OnPodConditions != nil:
			cond := matchPodConditions(&pod.Status, rule.OnPodConditions)
			if cond == nil {
				continue
			}
			what = fmt.Sprintf("Pod %s/%s has condition %s matching %s rule at index %d", pod.Namespace, pod.Name, cond.Type, rule.Action, i)
		default:
			continue
		}
		switch rule.Action {
		case batchv1.PodFailurePolicyActionIgnore:
			return nil, false
		case batchv1.PodFailurePolicyActionCount:
			return nil, true
		case batchv1.PodFailurePolicyActionFailJob:
			return &what, true
		}
		// FailIndex needs backoffLimitPerIndex, which we do not implement:
		// like a rule that does not apply, look at the next one.
	}
	return nil, true
}

// matchExitCodes finds a container (init containers first) that ended with
// a non-zero exit code the requirement selects.
func matchExitCodes(status *corev1.PodStatus, req *batchv1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{status.InitContainerStatuses, status.ContainerStatuses} {
		for i := range list {
			cs := &list[i]
			if req.ContainerName != nil && *req.ContainerName != cs.Name {
				continue
			}
			term := cs.State.Terminated
			if term == nil || term.ExitCode == 0 {
				continue
			}
			in := slices.Contains(req.Values, term.ExitCode)
			if (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) == in {
				return cs
			}
		}
	}
	return nil
}

func matchPodConditions(status *corev1.PodStatus, patterns []batchv1.PodFailurePolicyOnPodConditionsPattern) *corev1.PodCondition {
	for _, p := range patterns {
		for i := range status.Conditions {
			if c := &status.Conditions[i]; c.Type == p.Type && c.Status == p.Status {
				return c
			}
		}
	}
	return nil
}
