package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
)

// scheduleOne is one scheduling cycle: snapshot, filter and score, assume,
// then hand the binding to a goroutine.
func (s *Scheduler) scheduleOne(ctx context.Context, qp *QueuedPod, cycle int64) {
	pod := qp.Pod
	prof := s.profiles[pod.Spec.SchedulerName]
	if prof == nil || pod.DeletionTimestamp != nil || s.cache.IsAssumed(pod) {
		s.queue.Done(qp)
		return
	}
	start := time.Now()
	s.cache.UpdateSnapshot(s.snapshot)
	ex := &Explanation{Pod: qp.Key(), Profile: prof.Name, Time: start, Attempt: qp.Attempts}
	for _, f := range prof.Filters {
		ex.Filters = append(ex.Filters, f.Name())
	}
	node, err := s.algo.Schedule(ctx, prof, s.snapshot, qp.PodInfo, ex)
	if err == nil {
		assumed := pod.DeepCopy()
		assumed.Spec.NodeName = node
		if err = s.cache.AssumePod(assumed); err == nil {
			ex.Result, ex.Node = "Scheduled", node
			ex.Duration = time.Since(start).String()
			s.record(ex)
			s.queue.Done(qp)
			s.background.Add(1)
			go s.bind(ctx, prof, qp, assumed, start)
			return
		}
	}
	s.failed(ctx, prof, qp, cycle, err, ex, start)
}

func (s *Scheduler) record(ex *Explanation) {
	s.explain.add(ex)
	slog.Debug("scheduling decision", "pod", ex.Pod, "summary", ex.Summary())
}

// bind is the binding cycle: POST pods/<name>/binding. On failure the
// assumed pod is forgotten (its resources free again) and the pod retried.
func (s *Scheduler) bind(ctx context.Context, prof *Profile, qp *QueuedPod, assumed *corev1.Pod, start time.Time) {
	defer s.background.Done()
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: assumed.Namespace, Name: assumed.Name, UID: assumed.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: assumed.Spec.NodeName},
	}
	err := s.kube.CoreV1().Pods(assumed.Namespace).Bind(ctx, binding, metav1.CreateOptions{})
	if err != nil {
		s.cache.ForgetPod(assumed)
		s.queue.MoveAll(assignedPodDeleted) // what it held is free again
		if ctx.Err() != nil {
			return
		}
		slog.Info("binding failed", "pod", qp.Key(), "node", assumed.Spec.NodeName, "err", err)
		ex := &Explanation{Pod: qp.Key(), Profile: prof.Name, Time: time.Now(), Attempt: qp.Attempts}
		s.failed(ctx, prof, qp, -1, fmt.Errorf("binding rejected: %w", err), ex, start)
		return
	}
	s.cache.FinishBinding(assumed)
	s.recorders[prof.Name].Eventf(assumed, corev1.EventTypeNormal, "Scheduled",
		"Successfully assigned %v/%v to %v", assumed.Namespace, assumed.Name, assumed.Spec.NodeName)
	scheduleAttempts.WithLabelValues("scheduled", prof.Name).Inc()
	attemptDuration.WithLabelValues("scheduled", prof.Name).Observe(time.Since(start).Seconds())
	sliDuration.WithLabelValues(strconv.Itoa(min(qp.Attempts, 15))).Observe(time.Since(qp.InitialAttempt).Seconds())
}

// failed handles a pod no node fits (or an error): event FailedScheduling,
// PodScheduled=False, and back to the queue to wait for a change.
func (s *Scheduler) failed(ctx context.Context, prof *Profile, qp *QueuedPod, cycle int64, err error, ex *Explanation, start time.Time) {
	result, reason := "error", "SchedulerError"
	var fe *FitError
	switch {
	case errors.As(err, &fe):
		result, reason = "unschedulable", corev1.PodReasonUnschedulable
		qp.UnschedulablePlugins = sets.New(fe.UnschedulablePlugins()...)
	case errors.Is(err, ErrNoNodesAvailable):
		result, reason = "unschedulable", corev1.PodReasonUnschedulable
		qp.UnschedulablePlugins = sets.New("NoNodes") // wait for a node
	default:
		qp.UnschedulablePlugins = nil // errors retry with back-off
	}
	msg := err.Error()
	ex.Result, ex.Message = map[string]string{"error": "Error", "unschedulable": "Unschedulable"}[result], msg
	ex.Duration = time.Since(start).String()
	s.record(ex)
	scheduleAttempts.WithLabelValues(result, prof.Name).Inc()
	attemptDuration.WithLabelValues(result, prof.Name).Observe(time.Since(start).Seconds())

	// Requeue only a pod that still exists unbound (the cache is the
	// informer's, so this is cheap and may be a moment old).
	cur, gerr := s.podLister.Pods(qp.Pod.Namespace).Get(qp.Pod.Name)
	if gerr != nil || cur.UID != qp.Pod.UID || cur.Spec.NodeName != "" {
		s.queue.Done(qp)
		return
	}
	s.queue.AddUnschedulable(qp, cycle)
	s.recorders[prof.Name].Eventf(cur, corev1.EventTypeWarning, "FailedScheduling", "%v", msg)
	if needsConditionUpdate(cur, reason, msg) {
		s.background.Add(1)
		go func() {
			defer s.background.Done()
			if err := s.setUnschedulable(ctx, cur, reason, msg); err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) {
				slog.Info("updating PodScheduled condition failed", "pod", qp.Key(), "err", err)
			}
		}()
	}
}

func needsConditionUpdate(p *corev1.Pod, reason, msg string) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Status != corev1.ConditionFalse || c.Reason != reason || c.Message != msg
		}
	}
	return true
}

// setUnschedulable writes PodScheduled=False through pods/status with a
// strategic merge patch (conditions merge by type), as upstream does.
func (s *Scheduler) setUnschedulable(ctx context.Context, p *corev1.Pod, reason, msg string) error {
	transition := metav1.Now()
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			transition = c.LastTransitionTime
		}
	}
	patch := map[string]any{"status": map[string]any{"conditions": []any{map[string]any{
		"type": corev1.PodScheduled, "status": corev1.ConditionFalse, "reason": reason, "message": msg,
		"lastProbeTime": nil, "lastTransitionTime": transition,
	}}}}
	data, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	_, err = s.kube.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("patch pod %s/%s status: %w", p.Namespace, p.Name, err)
	}
	return nil
}
