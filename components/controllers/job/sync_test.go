package job

import (
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func TestSync(t *testing.T) {
	two, three := ptr.To[int32](2), ptr.To[int32](3)
	tests := []struct {
		name  string
		job   *batchv1.Job
		pods  func(*batchv1.Job) []runtime.Object
		syncs int
		// between runs after each sync but the last (a kubelet's doing).
		between func(h *harness, i int)
		check   func(t *testing.T, h *harness)
	}{{
		name:  "a new Job gets parallelism pods, each with the finalizer, labels and owner",
		job:   newJob("pi", three, two),
		syncs: 1,
		check: func(t *testing.T, h *harness) {
			pods := h.podList()
			if len(pods) != 2 {
				t.Fatalf("got %d pods, want 2", len(pods))
			}
			for _, p := range pods {
				if p.GenerateName != "pi-" || !hasFinalizer(&p) || p.Labels[batchv1.JobNameLabel] != "pi" ||
					p.Labels["controller-uid"] != "job-uid-pi" || metav1.GetControllerOf(&p).Name != "pi" {
					t.Errorf("pod %s: generateName %q finalizers %v labels %v owners %v", p.Name, p.GenerateName, p.Finalizers, p.Labels, p.OwnerReferences)
				}
			}
			j := h.job("pi")
			if j.Status.Active != 2 || j.Status.StartTime == nil || ptr.Deref(j.Status.Ready, -1) != 0 {
				t.Errorf("status = %+v, want active 2, ready 0, startTime set", j.Status)
			}
			if !h.hasEvent("Normal SuccessfulCreate Created pod: pi-") {
				t.Errorf("events %q: want SuccessfulCreate", h.events)
			}
		},
	}, {
		name:  "succeeded pods are counted, released, and complete the Job",
		job:   newJob("pi", three, two),
		pods:  phases(corev1.PodSucceeded, corev1.PodSucceeded, corev1.PodSucceeded),
		syncs: 1,
		check: func(t *testing.T, h *harness) {
			j := h.job("pi")
			want := []string{"SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached"}
			if got := conditions(j); !slices.Equal(got, want) {
				t.Errorf("conditions = %q, want %q", got, want)
			}
			if j.Status.Succeeded != 3 || j.Status.CompletionTime == nil || len(j.Status.UncountedTerminatedPods.Succeeded) != 0 {
				t.Errorf("status = %+v, want 3 succeeded, completionTime, nothing uncounted", j.Status)
			}
			for _, p := range h.podList() {
				if hasFinalizer(&p) {
					t.Errorf("pod %s still has the tracking finalizer", p.Name)
				}
			}
			if !h.hasEvent("Normal Completed Job completed") {
				t.Errorf("events %q: want Completed", h.events)
			}
		},
	}, {
		name:  "a succeeded pod adds a replacement until completions are reached",
		job:   newJob("pi", three, two),
		pods:  phases(corev1.PodSucceeded, corev1.PodRunning),
		syncs: 1,
		check: func(t *testing.T, h *harness) {
			if got := len(h.podList()); got != 3 {
				t.Errorf("got %d pods, want 3 (one done, two running)", got)
			}
			if j := h.job("pi"); j.Status.Succeeded != 1 || j.Status.Active != 2 {
				t.Errorf("status succeeded %d active %d, want 1 and 2", j.Status.Succeeded, j.Status.Active)
			}
		},
	}, {
		name: "past the backoff limit: FailureTarget, active pods deleted, then Failed",
		job: func() *batchv1.Job {
			j := newJob("pi", three, two)
			j.Spec.BackoffLimit = ptr.To[int32](1)
			return j
		}(),
		pods:  phases(corev1.PodFailed, corev1.PodFailed, corev1.PodRunning),
		syncs: 2,
		between: func(h *harness, i int) {
			if got := conditions(h.job("pi")); !slices.Equal(got, []string{"FailureTarget=True/BackoffLimitExceeded"}) {
				t.Errorf("after the first sync conditions = %q, want only FailureTarget", got)
			}
		},
		check: func(t *testing.T, h *harness) {
			j := h.job("pi")
			want := []string{"FailureTarget=True/BackoffLimitExceeded", "Failed=True/BackoffLimitExceeded"}
			if got := conditions(j); !slices.Equal(got, want) {
				t.Errorf("conditions = %q, want %q", got, want)
			}
			if j.Status.Failed != 3 || j.Status.Active != 0 {
				t.Errorf("failed %d active %d, want 3 (the stopped pod counts) and 0", j.Status.Failed, j.Status.Active)
			}
			if msg := j.Status.Conditions[1].Message; msg != "Job has reached the specified backoff limit" {
				t.Errorf("message = %q", msg)
			}
			if len(h.podList()) != 2 {
				t.Errorf("the running pod should be deleted: %d pods left", len(h.podList()))
			}
			if !h.hasEvent("Warning BackoffLimitExceeded Job has reached the specified backoff limit") {
				t.Errorf("events %q: want BackoffLimitExceeded", h.events)
			}
		},
	}, {
		name: "restartPolicy OnFailure: container restarts count toward the backoff limit",
		job: func() *batchv1.Job {
			j := newJob("pi", ptr.To[int32](1), ptr.To[int32](1))
			j.Spec.BackoffLimit = ptr.To[int32](2)
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			return j
		}(),
		pods: func(j *batchv1.Job) []runtime.Object {
			p := podOf(j, "pi-a", corev1.PodRunning)
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "work", RestartCount: 2}}
			return []runtime.Object{p}
		},
		syncs: 1,
		check: func(t *testing.T, h *harness) {
			if got := conditions(h.job("pi")); !slices.Equal(got, []string{"FailureTarget=True/BackoffLimitExceeded"}) {
				t.Errorf("conditions = %q", got)
			}
		},
	}, {
		name: "past activeDeadlineSeconds the Job fails with DeadlineExceeded",
		job: func() *batchv1.Job {
			j := newJob("pi", three, two)
			j.Spec.ActiveDeadlineSeconds = ptr.To[int64](60)
			j.Status.StartTime = ptr.To(metav1.NewTime(now.Add(-2 * time.Minute)))
			return j
		}(),
		pods:  phases(corev1.PodRunning),
		syncs: 2,
		check: func(t *testing.T, h *harness) {
			j := h.job("pi")
			want := []string{"FailureTarget=True/DeadlineExceeded", "Failed=True/DeadlineExceeded"}
			if got := conditions(j); !slices.Equal(got, want) {
				t.Errorf("conditions = %q, want %q", got, want)
			}
			if j.Status.Conditions[1].Message != "Job was active longer than specified deadline" || len(h.podList()) != 0 {
				t.Errorf("message %q, %d pods left", j.Status.Conditions[1].Message, len(h.podList()))
			}
		},
	}, {
		name: "an Indexed Job runs one pod per index and lists completed indexes",
		job: func() *batchv1.Job {
			j := newJob("ix", ptr.To[int32](4), ptr.To[int32](4))
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			return j
		}(),
		syncs: 3,
		between: func(h *harness, i int) {
			pods := h.podList()
			switch i {
			case 0: // indexes 0,1,3 finish
				for _, p := range pods {
					if ix := completionIndex(&p); ix != 2 {
						h.setPhase(p.Name, corev1.PodSucceeded)
					}
				}
			case 1:
				if got := h.job("ix").Status.CompletedIndexes; got != "0-1,3" {
					t.Errorf("completedIndexes = %q, want 0-1,3", got)
				}
				for _, p := range pods {
					if completionIndex(&p) == 2 {
						h.setPhase(p.Name, corev1.PodSucceeded)
					}
				}
			}
		},
		check: func(t *testing.T, h *harness) {
			seen := map[int]bool{}
			for _, p := range h.podList() {
				ix := completionIndex(&p)
				seen[ix] = true
				if p.Spec.Hostname != "ix-"+p.Annotations[batchv1.JobCompletionIndexAnnotation] ||
					p.Labels[batchv1.JobCompletionIndexAnnotation] == "" || p.Spec.Containers[0].Env[0].Name != "JOB_COMPLETION_INDEX" {
					t.Errorf("pod %s: hostname %q labels %v env %v", p.Name, p.Spec.Hostname, p.Labels, p.Spec.Containers[0].Env)
				}
			}
			if len(seen) != 4 {
				t.Errorf("indexes with pods: %v, want 0-3 once each", seen)
			}
			j := h.job("ix")
			if j.Status.CompletedIndexes != "0-3" || j.Status.Succeeded != 4 || finishedCondition(j) == nil || finishedCondition(j).Type != batchv1.JobComplete {
				t.Errorf("status = %+v, want 0-3 complete", j.Status)
			}
		},
	}, {
		name: "suspending deletes the pods without counting them",
		job: func() *batchv1.Job {
			j := newJob("pi", three, two)
			j.Spec.Suspend = ptr.To(true)
			return j
		}(),
		pods:  phases(corev1.PodRunning, corev1.PodPending),
		syncs: 1,
		check: func(t *testing.T, h *harness) {
			j := h.job("pi")
			if got := conditions(j); !slices.Equal(got, []string{"Suspended=True/JobSuspended"}) {
				t.Errorf("conditions = %q", got)
			}
			if len(h.podList()) != 0 || j.Status.Failed != 0 || j.Status.Active != 0 {
				t.Errorf("%d pods, failed %d, active %d: want none, 0, 0", len(h.podList()), j.Status.Failed, j.Status.Active)
			}
			if !h.hasEvent("Normal Suspended Job suspended") {
				t.Errorf("events %q", h.events)
			}
		},
	}, {
		name: "a suspended Job that resumes gets pods and Suspended=False",
		job: func() *batchv1.Job {
			j := newJob("pi", three, two)
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue, Reason: "JobSuspended"}}
			return j
		}(),
		syncs: 1,
		check: func(t *testing.T, h *harness) {
			j := h.job("pi")
			if got := conditions(j); !slices.Equal(got, []string{"Suspended=False/JobResumed"}) || len(h.podList()) != 2 {
				t.Errorf("conditions = %q, %d pods", got, len(h.podList()))
			}
		},
	}, {
		name: "a pod counted in uncountedTerminatedPods is not counted twice",
		job: func() *batchv1.Job {
			j := newJob("pi", three, ptr.To[int32](1))
			j.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: []types.UID{"uid-pi-0"}}
			return j
		}(),
		pods: func(j *batchv1.Job) []runtime.Object {
			p := podOf(j, "pi-0", corev1.PodSucceeded)
			p.Finalizers = nil // released, but the counter not yet written
			return []runtime.Object{p, podOf(j, "pi-1", corev1.PodSucceeded)}
		},
		syncs: 1,
		check: func(t *testing.T, h *harness) {
			j := h.job("pi")
			if j.Status.Succeeded != 2 || len(j.Status.UncountedTerminatedPods.Succeeded) != 0 || j.Status.Active != 1 {
				t.Errorf("status = %+v, want succeeded 2, nothing uncounted, 1 new pod active", j.Status)
			}
		},
	}, {
		name: "after a failure the replacement waits for the back-off",
		job:  newJob("pi", ptr.To[int32](1), ptr.To[int32](1)),
		pods: func(j *batchv1.Job) []runtime.Object {
			p := podOf(j, "pi-0", corev1.PodFailed)
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "work", State: corev1.ContainerState{
				Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: metav1.NewTime(now.Add(-time.Second))}}}}
			return []runtime.Object{p}
		},
		syncs: 1,
		check: func(t *testing.T, h *harness) {
			j := h.job("pi")
			if len(h.podList()) != 1 || j.Status.Failed != 1 || j.Status.Active != 0 {
				t.Errorf("%d pods, status %+v: want no replacement yet, failed 1", len(h.podList()), j.Status)
			}
		},
	}, {
		name: "a FailJob pod failure policy rule fails the Job at once",
		job: func() *batchv1.Job {
			j := newJob("pi", three, two)
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action:      batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}},
			}}}
			return j
		}(),
		pods: func(j *batchv1.Job) []runtime.Object {
			p := podOf(j, "pi-0", corev1.PodFailed)
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "work", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 42}}}}
			return []runtime.Object{p}
		},
		syncs: 2,
		check: func(t *testing.T, h *harness) {
			j := h.job("pi")
			want := []string{"FailureTarget=True/PodFailurePolicy", "Failed=True/PodFailurePolicy"}
			if got := conditions(j); !slices.Equal(got, want) {
				t.Errorf("conditions = %q, want %q", got, want)
			}
			if msg := j.Status.Conditions[1].Message; msg != "Container work for pod ns/pi-0 failed with exit code 42 matching FailJob rule at index 0" {
				t.Errorf("message = %q", msg)
			}
		},
	}, {
		name: "a work-queue Job (no completions) is done when one pod succeeded and none runs",
		job:  newJob("wq", nil, two),
		pods: func(j *batchv1.Job) []runtime.Object {
			return []runtime.Object{podOf(j, "wq-0", corev1.PodSucceeded), podOf(j, "wq-1", corev1.PodRunning)}
		},
		syncs: 2,
		between: func(h *harness, i int) {
			if n := len(h.podList()); n != 2 {
				t.Errorf("after one success no new pod may start: %d pods", n)
			}
			h.setPhase("wq-1", corev1.PodSucceeded)
		},
		check: func(t *testing.T, h *harness) {
			if c := finishedCondition(h.job("wq")); c == nil || c.Type != batchv1.JobComplete {
				t.Errorf("conditions = %q, want Complete", conditions(h.job("wq")))
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := []runtime.Object{tt.job}
			if tt.pods != nil {
				objs = append(objs, tt.pods(tt.job)...)
			}
			h := newHarness(t, objs...)
			key := tt.job.Namespace + "/" + tt.job.Name
			for i := 0; i < tt.syncs; i++ {
				if err := h.sync(key); err != nil {
					t.Fatalf("sync %d: %v", i, err)
				}
				if i < tt.syncs-1 && tt.between != nil {
					tt.between(h, i)
				}
			}
			tt.check(t, h)
		})
	}
}

// phases makes one pod of the Job per phase, named <job>-0, <job>-1, …
func phases(ps ...corev1.PodPhase) func(*batchv1.Job) []runtime.Object {
	return func(j *batchv1.Job) []runtime.Object {
		var out []runtime.Object
		for i, p := range ps {
			out = append(out, podOf(j, j.Name+"-"+string(rune('0'+i)), p))
		}
		return out
	}
}
