package job

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
)

// maxUncountedPods bounds status.uncountedTerminatedPods (and the finalizer
// removals of one sync), as upstream.
const maxUncountedPods = 500

// trackStatus moves finished pods through the three steps that make
// counting crash-safe:
//
//  1. write their UIDs into status.uncountedTerminatedPods (and any interim
//     FailureTarget / SuccessCriteriaMet condition)
//  2. remove their batch.kubernetes.io/job-tracking finalizers
//  3. move the UIDs whose finalizer is gone into status.succeeded/failed,
//     and, once nothing is left uncounted or terminating, add the final
//     Complete or Failed condition
func (c *Controller) trackStatus(ctx context.Context, s *state, needsFlush bool) error {
	job := s.job
	indexed := isIndexed(job)
	if indexed {
		sort.SliceStable(s.pods, func(i, j int) bool { return completionIndex(s.pods[i]) < completionIndex(s.pods[j]) })
	}
	withFinalizer := sets.New[string]()
	for _, p := range s.pods {
		if hasFinalizer(p) && !s.removingFinalizer.Has(string(p.UID)) {
			withFinalizer.Insert(string(p.UID))
		}
	}
	if countReleased(&job.Status, withFinalizer) {
		needsFlush = true
	}

	uncounted := job.Status.UncountedTerminatedPods
	var release []*corev1.Pod
	full := false
	for _, p := range s.pods {
		uid := string(p.UID)
		if !hasFinalizer(p) || s.removingFinalizer.Has(uid) {
			continue // counted in an earlier sync
		}
		failed := isPodFailed(p, job)
		// A pod is released once finished, or when the whole Job is ending
		// or being deleted.
		if !(job.DeletionTimestamp != nil || s.finished != nil || p.Status.Phase == corev1.PodSucceeded || failed) {
			continue
		}
		release = append(release, p)
		switch {
		case p.Status.Phase == corev1.PodSucceeded && !s.uncountedFailed.Has(uid):
			// Indexed Jobs count succeeded indexes (already in
			// s.succeededIndexes), not pod UIDs.
			if !indexed && !s.uncountedSucceeded.Has(uid) {
				uncounted.Succeeded = append(uncounted.Succeeded, p.UID)
				needsFlush = true
			}
		case failed || (s.finished != nil && s.finished.Type != batchv1.JobSuccessCriteriaMet):
			// When the Job fails, whatever still runs counts as failed.
			if s.uncountedFailed.Has(uid) || (indexed && !validIndex(job, p)) {
				break
			}
			if _, counts := matchPodFailurePolicy(job.Spec.PodFailurePolicy, p); counts {
				uncounted.Failed = append(uncounted.Failed, p.UID)
				needsFlush = true
			}
		}
		if len(uncounted.Succeeded)+len(uncounted.Failed) >= maxUncountedPods {
			full = true // the rest waits for the next sync
			break
		}
	}
	if indexed {
		if str := s.succeededIndexes.String(); str != job.Status.CompletedIndexes {
			job.Status.CompletedIndexes = str
			needsFlush = true
		}
		job.Status.Succeeded = int32(len(s.succeededIndexes))
	}

	// The interim condition is written before any finalizer goes, so that a
	// restarted controller knows how this Job ends.
	if f := s.finished; f != nil {
		switch f.Type {
		case batchv1.JobFailureTarget:
			job.Status.Conditions = append(job.Status.Conditions, *f)
			needsFlush = true
			s.finished = c.condition(batchv1.JobFailed, f.Reason, f.Message)
		case batchv1.JobSuccessCriteriaMet:
			if conditionOf(job, batchv1.JobSuccessCriteriaMet) == nil {
				job.Status.Conditions = append(job.Status.Conditions, *f)
				needsFlush = true
			}
			s.finished = c.condition(batchv1.JobComplete, f.Reason, f.Message)
		}
	}

	// Step 1.
	if needsFlush {
		if err := c.updateStatus(ctx, s); err != nil {
			return fmt.Errorf("add uncounted pods to status: %w", err)
		}
		needsFlush = false
	}
	// Step 2.
	var rmErr error
	if len(release) > 0 {
		uids := make([]string, len(release))
		for i, p := range release {
			uids[i] = string(p.UID)
		}
		c.expect.expectFinalizersRemoved(s.key, uids)
		var errs []error
		for _, p := range release {
			if err := c.removeFinalizer(ctx, p); err != nil {
				c.expect.finalizerRemoved(s.key, string(p.UID))
				errs = append(errs, err)
				continue
			}
			withFinalizer.Delete(string(p.UID))
		}
		rmErr = errors.Join(errs...)
	}
	// Step 3. (s.job is now the stored version from step 1.)
	job = s.job
	if countReleased(&job.Status, withFinalizer) {
		needsFlush = true
	}
	if !full && c.finish(s) {
		needsFlush = true
		if err := c.updateStatus(ctx, s); err != nil {
			return fmt.Errorf("finish job: %w", err)
		}
		c.recordFinished(job, s.finished)
		return rmErr
	}
	if needsFlush {
		if err := c.updateStatus(ctx, s); err != nil {
			return fmt.Errorf("count released pods: %w", err)
		}
	}
	return rmErr
}

// countReleased moves uncounted UIDs whose pod no longer holds our
// finalizer into the counters. It reports whether anything moved.
func countReleased(status *batchv1.JobStatus, withFinalizer sets.Set[string]) bool {
	u := status.UncountedTerminatedPods
	keep := func(uids []types.UID) []types.UID {
		var out []types.UID
		for _, uid := range uids {
			if withFinalizer.Has(string(uid)) {
				out = append(out, uid)
			}
		}
		return out
	}
	changed := false
	if left := keep(u.Succeeded); len(left) != len(u.Succeeded) {
		status.Succeeded += int32(len(u.Succeeded) - len(left))
		u.Succeeded, changed = left, true
	}
	if left := keep(u.Failed); len(left) != len(u.Failed) {
		status.Failed += int32(len(u.Failed) - len(left))
		u.Failed, changed = left, true
	}
	return changed
}

// finish adds the final Complete or Failed condition once every pod is
// counted and none is still terminating.
func (c *Controller) finish(s *state) bool {
	f := s.finished
	if f == nil {
		return false
	}
	if u := s.job.Status.UncountedTerminatedPods; len(u.Succeeded)+len(u.Failed) > 0 || s.terminating > 0 {
		return false
	}
	setCondition(s.job, f.Type, f.Status, f.Reason, f.Message, c.now())
	if f.Type == batchv1.JobComplete {
		s.job.Status.CompletionTime = &conditionOf(s.job, batchv1.JobComplete).LastTransitionTime
	}
	return true
}

func (c *Controller) recordFinished(job *batchv1.Job, f *batchv1.JobCondition) {
	if f.Type == batchv1.JobComplete {
		if job.Spec.Completions != nil && job.Status.Succeeded > *job.Spec.Completions {
			c.recorder.Event(job, corev1.EventTypeWarning, "TooManySucceededPods", "Too many succeeded pods running after completion count reached")
		}
		c.recorder.Event(job, corev1.EventTypeNormal, "Completed", "Job completed")
		return
	}
	c.recorder.Event(job, corev1.EventTypeWarning, f.Reason, f.Message)
}

// updateStatus writes s.job's status and keeps the stored version (with
// its new resourceVersion) for the next write of this sync.
func (c *Controller) updateStatus(ctx context.Context, s *state) error {
	got, err := c.kube.BatchV1().Jobs(s.job.Namespace).UpdateStatus(ctx, s.job, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update status of job %s: %w", s.key, err)
	}
	if got.Status.UncountedTerminatedPods == nil {
		got.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	s.job = got
	return nil
}

func (c *Controller) condition(typ batchv1.JobConditionType, reason, message string) *batchv1.JobCondition {
	now := metav1.NewTime(c.now())
	return &batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reason, Message: message, LastProbeTime: now, LastTransitionTime: now}
}

// setCondition sets a condition of the given type; a False condition that
// does not exist yet is not added (nothing to say). It reports a change.
func setCondition(job *batchv1.Job, typ batchv1.JobConditionType, status corev1.ConditionStatus, reason, message string, now time.Time) bool {
	t := metav1.NewTime(now)
	if c := findCondition(job, typ); c != nil {
		if c.Status == status && c.Reason == reason && c.Message == message {
			return false
		}
		*c = batchv1.JobCondition{Type: typ, Status: status, Reason: reason, Message: message, LastProbeTime: t, LastTransitionTime: t}
		return true
	}
	if status == corev1.ConditionFalse {
		return false
	}
	job.Status.Conditions = append(job.Status.Conditions, batchv1.JobCondition{Type: typ, Status: status, Reason: reason, Message: message, LastProbeTime: t, LastTransitionTime: t})
	return true
}

// conditionOf returns the Job's condition of type typ if it is True.
func conditionOf(job *batchv1.Job, typ batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		if c := &job.Status.Conditions[i]; c.Type == typ && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

// findCondition returns the Job's condition of type typ, whatever its status.
func findCondition(job *batchv1.Job, typ batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		if c := &job.Status.Conditions[i]; c.Type == typ {
			return c
		}
	}
	return nil
}

// finishedCondition: Complete or Failed, True.
func finishedCondition(job *batchv1.Job) *batchv1.JobCondition {
	if c := conditionOf(job, batchv1.JobComplete); c != nil {
		return c
	}
	return conditionOf(job, batchv1.JobFailed)
}
