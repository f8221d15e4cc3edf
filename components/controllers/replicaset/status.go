package replicaset

import (
	"context"
	"fmt"
	"log/slog"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
)

// calculateStatus counts the ReplicaSet's pods. A failed create or delete
// shows as the ReplicaFailure condition (FailedCreate / FailedDelete, with
// the API error as message: e.g. a quota refusal), which the Deployment
// controller copies into the Deployment's conditions.
func (c *Controller) calculateStatus(rs *appsv1.ReplicaSet, pods, terminating []*corev1.Pod, manageErr error) appsv1.ReplicaSetStatus {
	status := *rs.Status.DeepCopy()
	template := labels.Set(rs.Spec.Template.Labels).AsSelectorPreValidated()
	var labeled, ready, available int32
	now := c.now()
	for _, p := range pods {
		if template.Matches(labels.Set(p.Labels)) {
			labeled++
		}
		if isReady(p) {
			ready++
			if isAvailable(p, rs.Spec.MinReadySeconds, now) {
				available++
			}
		}
	}
	failure := condition(status, appsv1.ReplicaSetReplicaFailure)
	switch {
	case manageErr != nil && failure == nil:
		reason := ""
		if diff := len(pods) - int(replicas(rs)); diff < 0 {
			reason = "FailedCreate"
		} else if diff > 0 {
			reason = "FailedDelete"
		}
		status.Conditions = append(status.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && failure != nil:
		var kept []appsv1.ReplicaSetCondition
		for _, cond := range status.Conditions {
			if cond.Type != appsv1.ReplicaSetReplicaFailure {
				kept = append(kept, cond)
			}
		}
		status.Conditions = kept
	}
	status.Replicas = int32(len(pods))
	status.FullyLabeledReplicas = labeled
	status.ReadyReplicas = ready
	status.AvailableReplicas = available
	status.TerminatingReplicas = ptr.To(int32(len(terminating)))
	return status
}

func condition(status appsv1.ReplicaSetStatus, t appsv1.ReplicaSetConditionType) *appsv1.ReplicaSetCondition {
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return &status.Conditions[i]
		}
	}
	return nil
}

// updateStatus writes status (and observedGeneration) if anything changed.
// On a conflict it reads the ReplicaSet fresh and tries once more, like
// upstream: the next sync would redo the same anyway.
func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, status appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	status.ObservedGeneration = rs.Generation
	if apiequality.Semantic.DeepEqual(rs.Status, status) {
		return rs, nil
	}
	var err error
	for attempt := 0; ; attempt++ {
		slog.Debug("updating status", "controller", c.name, "owner", rs.Namespace+"/"+rs.Name,
			"replicas", status.Replicas, "ready", status.ReadyReplicas, "available", status.AvailableReplicas)
		rs.Status = status
		var out *appsv1.ReplicaSet
		if out, err = c.owners.updateStatus(ctx, rs); err == nil {
			return out, nil
		}
		if attempt == 1 {
			return nil, err
		}
		fresh, getErr := c.owners.fresh(ctx, rs.Namespace, rs.Name)
		if getErr != nil {
			return nil, fmt.Errorf("%w (and reading it again: %v)", err, getErr)
		}
		rs = fresh
		status.ObservedGeneration = rs.Generation
	}
}
