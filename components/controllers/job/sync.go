package job

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// managedBy is the spec.managedBy value (or none) this controller handles;
// Jobs managed by another controller (say, a multi-cluster dispatcher) are
// left alone, as upstream.
const managedBy = "kubernetes.io/job-controller"

var everything = labels.Everything()

// state is what one sync knows about one Job.
type state struct {
	key  string
	job  *batchv1.Job  // a deep copy: sync writes its status
	pods []*corev1.Pod // every pod this Job controls
	// active: pods neither finished nor being deleted.
	active []*corev1.Pod
	// succeeded and failed: counted + uncounted + newly finished pods.
	succeeded, failed  int32
	ready, terminating int32
	// uncounted: UIDs already in status.uncountedTerminatedPods.
	uncountedSucceeded, uncountedFailed sets.Set[string]
	// removingFinalizer: pods whose finalizer removal is in flight.
	removingFinalizer sets.Set[string]
	// finished: the condition the Job is heading for, if any.
	finished *batchv1.JobCondition
	backoff  backoffRecord
	// Indexed Jobs: indexes that succeeded before this sync, and now.
	prevSucceededIndexes, succeededIndexes indexSet
}

// sync brings one Job closer to its spec. It follows upstream's syncJob:
// count pods, decide whether the Job has finished (or failed), else create
// or delete pods, then record status and release counted pods' finalizers.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not a key we made; retrying will not help
	}
	shared, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expect.forget(key)
		c.backoff.remove(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get job %s from cache: %w", key, err)
	}
	if finishedCondition(shared) != nil {
		c.backoff.remove(key)
		return nil
	}
	if m := shared.Spec.ManagedBy; m != nil && *m != managedBy {
		return nil
	}
	job := shared.DeepCopy()
	if job.Spec.Parallelism == nil || job.Spec.BackoffLimit == nil {
		return nil // not defaulted by an API server: not ours to guess
	}
	satisfied := c.expect.satisfied(key)

	pods, err := c.podsOf(job)
	if err != nil {
		return err
	}
	if job.Status.UncountedTerminatedPods == nil {
		job.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	s := &state{
		key: key, job: job, pods: pods, active: activePods(pods),
		uncountedSucceeded: uidSet(job.Status.UncountedTerminatedPods.Succeeded),
		uncountedFailed:    uidSet(job.Status.UncountedTerminatedPods.Failed),
		removingFinalizer:  c.expect.pendingFinalizers(key),
		terminating:        countTerminating(pods),
	}
	s.ready = countReady(s.active)
	active := int32(len(s.active))
	newSucceeded, newFailed := s.newlyFinished()
	s.succeeded = job.Status.Succeeded + int32(len(newSucceeded)) + int32(s.uncountedSucceeded.Len())
	s.failed = job.Status.Failed + countedFailures(job, newFailed) + int32(s.uncountedFailed.Len())

	startTimeSet := false
	if job.Status.StartTime == nil && !suspended(job) {
		job.Status.StartTime = ptr.To(metav1.NewTime(c.now()))
		startTimeSet = true
	}
	s.backoff = c.backoff.get(key).next(newSucceeded, newFailed)

	// Has the Job reached an end? Success first found earlier wins; then a
	// FailJob rule, the backoff limit, the deadline.
	s.finished = conditionOf(job, batchv1.JobSuccessCriteriaMet)
	if s.finished == nil {
		if ft := conditionOf(job, batchv1.JobFailureTarget); ft != nil {
			s.finished = c.condition(batchv1.JobFailed, ft.Reason, ft.Message)
		} else if msg := failJobMessage(job, pods); msg != nil {
			s.finished = c.condition(batchv1.JobFailureTarget, batchv1.JobReasonPodFailurePolicy, *msg)
		}
	}
	if s.finished == nil {
		switch {
		case s.failed > *job.Spec.BackoffLimit || pastBackoffLimitOnFailure(job, pods):
			s.finished = c.condition(batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded, "Job has reached the specified backoff limit")
		case c.pastActiveDeadline(job):
			s.finished = c.condition(batchv1.JobFailureTarget, batchv1.JobReasonDeadlineExceeded, "Job was active longer than specified deadline")
		case job.Spec.ActiveDeadlineSeconds != nil && !suspended(job):
			// Come back exactly when the deadline passes.
			left := time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second - c.now().Sub(job.Status.StartTime.Time)
			c.queue.AddAfter(key, left)
		}
	}
	if isIndexed(job) {
		completions := int(*job.Spec.Completions)
		s.prevSucceededIndexes = parseIndexes(job.Status.CompletedIndexes, completions)
		s.succeededIndexes = indexSet{}
		for i := range s.prevSucceededIndexes {
			s.succeededIndexes[i] = true
		}
		for _, p := range pods {
			if p.Status.Phase == corev1.PodSucceeded && validIndex(job, p) && hasFinalizer(p) {
				s.succeededIndexes[completionIndex(p)] = true
			}
		}
		s.succeeded = int32(len(s.succeededIndexes))
	}

	var manageErr error
	suspendChanged := false
	if s.finished != nil {
		// Ending (failed, or success met): stop whatever still runs. The
		// pods keep their finalizer so they are counted as they go.
		deleted, deletedReady, err := c.deleteActive(ctx, job, s.active)
		if deleted != active || !satisfied {
			s.finished = nil // not all gone yet: finish in a later sync
		}
		active -= deleted
		s.terminating += deleted
		s.ready -= deletedReady
		manageErr = err
	} else {
		managed := false
		if satisfied && job.DeletionTimestamp == nil {
			active, manageErr = c.manage(ctx, s)
			managed = true
		}
		var complete bool
		if job.Spec.Completions == nil {
			// Work-queue Jobs: done once any pod succeeded and none still runs.
			complete = s.succeeded > 0 && active == 0
		} else {
			complete = s.succeeded >= *job.Spec.Completions && active == 0
		}
		switch {
		case complete:
			s.finished = c.condition(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached, "Reached expected number of succeeded pods")
		case managed && suspended(job):
			if setCondition(job, batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", c.now()) {
				suspendChanged = true
				c.recorder.Event(job, corev1.EventTypeNormal, "Suspended", "Job suspended")
			}
		case managed:
			if setCondition(job, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed", c.now()) {
				suspendChanged = true
				c.recorder.Event(job, corev1.EventTypeNormal, "Resumed", "Job resumed")
				// activeDeadlineSeconds counts continuous activity: restart it.
				job.Status.StartTime = ptr.To(metav1.NewTime(c.now()))
			}
		}
	}

	needsUpdate := startTimeSet || suspendChanged || active != job.Status.Active ||
		!ptr.Equal(job.Status.Ready, &s.ready) || !ptr.Equal(job.Status.Terminating, &s.terminating)
	job.Status.Active = active
	job.Status.Ready = ptr.To(s.ready)
	job.Status.Terminating = ptr.To(s.terminating)
	if err := c.trackStatus(ctx, s, needsUpdate); err != nil {
		return fmt.Errorf("track status of job %s: %w", key, err)
	}
	return manageErr
}

// podsOf lists the pods the Job selects and controls.
func (c *Controller) podsOf(job *batchv1.Job) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("job %s/%s selector: %w", job.Namespace, job.Name, err)
	}
	all, err := c.pods.Pods(job.Namespace).List(sel)
	if err != nil {
		return nil, fmt.Errorf("list pods of job %s/%s: %w", job.Namespace, job.Name, err)
	}
	var out []*corev1.Pod
	for _, p := range all {
		if ref := metav1.GetControllerOf(p); ref != nil && ref.UID == job.UID {
			out = append(out, p)
		}
	}
	return out, nil
}

// newlyFinished: finished pods that still carry the finalizer and are not
// yet in status (counted or uncounted).
func (s *state) newlyFinished() (succeeded, failed []*corev1.Pod) {
	for _, p := range s.pods {
		uid := string(p.UID)
		if !hasFinalizer(p) || s.removingFinalizer.Has(uid) || s.uncountedSucceeded.Has(uid) || s.uncountedFailed.Has(uid) {
			continue
		}
		if isIndexed(s.job) && !validIndex(s.job, p) {
			continue
		}
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			succeeded = append(succeeded, p)
		case isPodFailed(p, s.job):
			failed = append(failed, p)
		}
	}
	return succeeded, failed
}

// countedFailures: failed pods that count toward backoffLimit (an Ignore
// rule of the pod failure policy can exempt some).
func countedFailures(job *batchv1.Job, failed []*corev1.Pod) int32 {
	n := int32(0)
	for _, p := range failed {
		if _, counts := matchPodFailurePolicy(job.Spec.PodFailurePolicy, p); counts {
			n++
		}
	}
	return n
}

// failJobMessage: the message of the first FailJob rule a failed pod matches.
func failJobMessage(job *batchv1.Job, pods []*corev1.Pod) *string {
	if job.Spec.PodFailurePolicy == nil {
		return nil
	}
	for _, p := range pods {
		if isPodFailed(p, job) {
			if msg, _ := matchPodFailurePolicy(job.Spec.PodFailurePolicy, p); msg != nil {
				return msg
			}
		}
	}
	return nil
}

// pastBackoffLimitOnFailure: with restartPolicy OnFailure the kubelet
// restarts containers in place, so restarts count as failures too.
func pastBackoffLimitOnFailure(job *batchv1.Job, pods []*corev1.Pod) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	restarts := int32(0)
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending {
			continue
		}
		for _, cs := range p.Status.InitContainerStatuses {
			restarts += cs.RestartCount
		}
		for _, cs := range p.Status.ContainerStatuses {
			restarts += cs.RestartCount
		}
	}
	if *job.Spec.BackoffLimit == 0 {
		return restarts > 0
	}
	return restarts >= *job.Spec.BackoffLimit
}

func (c *Controller) pastActiveDeadline(job *batchv1.Job) bool {
	if job.Spec.ActiveDeadlineSeconds == nil || job.Status.StartTime == nil || suspended(job) {
		return false
	}
	return c.now().Sub(job.Status.StartTime.Time) >= time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second
}

func suspended(job *batchv1.Job) bool { return ptr.Deref(job.Spec.Suspend, false) }
