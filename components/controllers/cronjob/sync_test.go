package cronjob

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

// now is 10:00:30 UTC; the CronJob was created at 09:00.
var (
	now     = time.Date(2026, 1, 2, 10, 0, 30, 0, time.UTC)
	created = time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
)

func cronJob(schedule string) *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "ns", UID: "cj-uid", CreationTimestamp: metav1.NewTime(created)},
		Spec: batchv1.CronJobSpec{
			Schedule: schedule, ConcurrencyPolicy: batchv1.AllowConcurrent, Suspend: ptr.To(false),
			SuccessfulJobsHistoryLimit: ptr.To[int32](3), FailedJobsHistoryLimit: ptr.To[int32](1),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "hello"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyOnFailure, Containers: []corev1.Container{{Name: "hello", Image: "busybox"}}}}},
			},
		},
	}
}

func childJob(cj *batchv1.CronJob, scheduled time.Time, cond batchv1.JobConditionType) *batchv1.Job {
	j := jobFor(cj, scheduled)
	j.UID = types.UID(fmt.Sprint("uid-", scheduled.Unix()))
	j.CreationTimestamp = metav1.NewTime(scheduled)
	j.Status.StartTime = &j.CreationTimestamp
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue}}
		j.Status.CompletionTime = ptr.To(metav1.NewTime(scheduled.Add(10 * time.Second)))
	}
	return j
}

func TestSync(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 1, 2, h, m, 0, 0, time.UTC) }
	tests := []struct {
		name       string
		cj         func() *batchv1.CronJob
		jobs       func(*batchv1.CronJob) []*batchv1.Job
		wantJobs   []string // Jobs existing after the sync
		wantActive []string
		wantLast   *time.Time
		wantNext   *time.Duration
		wantEvents []string // prefixes
	}{{
		name: "a start time passed: a Job named by its minute, with the timestamp annotation",
		cj: func() *batchv1.CronJob {
			cj := cronJob("0 * * * *")
			cj.Status.LastScheduleTime = &metav1.Time{Time: at(9, 0)}
			return cj
		},
		wantJobs:   []string{fmt.Sprintf("hello-%d", at(10, 0).Unix()/60)},
		wantActive: []string{fmt.Sprintf("hello-%d", at(10, 0).Unix()/60)},
		wantLast:   ptr.To(at(10, 0)),
		wantNext:   ptr.To(59*time.Minute + 30*time.Second + nextScheduleDelta),
		wantEvents: []string{"Normal SuccessfulCreate Created job hello-"},
	}, {
		name:     "several start times missed since creation: only the latest runs",
		cj:       func() *batchv1.CronJob { return cronJob("*/15 * * * *") },
		wantJobs: nil,
		// created 09:00 with no lastScheduleTime: 09:15 … 10:00 are due, only the latest runs
		wantActive: []string{fmt.Sprintf("hello-%d", at(10, 0).Unix()/60)},
		wantLast:   ptr.To(at(10, 0)),
		wantNext:   ptr.To(14*time.Minute + 30*time.Second + nextScheduleDelta),
	}, {
		name:     "suspended: nothing happens",
		cj:       func() *batchv1.CronJob { cj := cronJob("* * * * *"); cj.Spec.Suspend = ptr.To(true); return cj },
		wantNext: nil,
	}, {
		name: "Forbid with a running Job skips the start time",
		cj: func() *batchv1.CronJob {
			cj := cronJob("0 * * * *")
			cj.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent
			cj.Status.LastScheduleTime = &metav1.Time{Time: at(9, 0)}
			cj.Status.Active = []corev1.ObjectReference{reference(childJob(cj, at(9, 0), ""))}
			return cj
		},
		jobs:       func(cj *batchv1.CronJob) []*batchv1.Job { return []*batchv1.Job{childJob(cj, at(9, 0), "")} },
		wantJobs:   []string{fmt.Sprintf("hello-%d", at(9, 0).Unix()/60)},
		wantActive: []string{fmt.Sprintf("hello-%d", at(9, 0).Unix()/60)},
		wantLast:   ptr.To(at(9, 0)),
		wantEvents: []string{"Normal JobAlreadyActive"},
	}, {
		name: "Replace deletes the running Job and starts the new one",
		cj: func() *batchv1.CronJob {
			cj := cronJob("0 * * * *")
			cj.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent
			cj.Status.LastScheduleTime = &metav1.Time{Time: at(9, 0)}
			cj.Status.Active = []corev1.ObjectReference{reference(childJob(cj, at(9, 0), ""))}
			return cj
		},
		jobs:       func(cj *batchv1.CronJob) []*batchv1.Job { return []*batchv1.Job{childJob(cj, at(9, 0), "")} },
		wantJobs:   []string{fmt.Sprintf("hello-%d", at(10, 0).Unix()/60)},
		wantActive: []string{fmt.Sprintf("hello-%d", at(10, 0).Unix()/60)},
		wantEvents: []string{"Normal SuccessfulDelete Deleted job hello-", "Normal SuccessfulCreate"},
	}, {
		name: "past startingDeadlineSeconds the start time is skipped",
		cj: func() *batchv1.CronJob {
			cj := cronJob("0 * * * *")
			cj.Spec.StartingDeadlineSeconds = ptr.To[int64](10)
			cj.Status.LastScheduleTime = &metav1.Time{Time: at(9, 0)}
			return cj
		},
		wantJobs:   nil,
		wantNext:   ptr.To(59*time.Minute + 30*time.Second + nextScheduleDelta),
		wantEvents: []string{},
	}, {
		name: "a finished active Job leaves status.active and sets lastSuccessfulTime; history is trimmed",
		cj: func() *batchv1.CronJob {
			cj := cronJob("0 * * * *")
			cj.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](1)
			cj.Status.LastScheduleTime = &metav1.Time{Time: at(10, 0)}
			cj.Status.Active = []corev1.ObjectReference{reference(childJob(cj, at(10, 0), ""))}
			return cj
		},
		jobs: func(cj *batchv1.CronJob) []*batchv1.Job {
			return []*batchv1.Job{childJob(cj, at(8, 0), batchv1.JobComplete), childJob(cj, at(9, 0), batchv1.JobComplete), childJob(cj, at(10, 0), batchv1.JobComplete)}
		},
		wantJobs:   []string{fmt.Sprintf("hello-%d", at(10, 0).Unix()/60)},
		wantLast:   ptr.To(at(10, 0)),
		wantEvents: []string{"Normal SawCompletedJob Saw completed job: hello-", "Normal SuccessfulDelete"},
	}, {
		name: "more than 100 missed start times: a warning, and only the latest runs",
		cj: func() *batchv1.CronJob {
			cj := cronJob("* * * * *")
			cj.Status.LastScheduleTime = &metav1.Time{Time: at(7, 0)}
			return cj
		},
		wantActive: []string{fmt.Sprintf("hello-%d", at(10, 0).Unix()/60)},
		wantLast:   ptr.To(at(10, 0)),
		wantEvents: []string{"Warning TooManyMissedTimes", "Normal SuccessfulCreate"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cj := tt.cj()
			objs := []runtime.Object{cj}
			jobIndex := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
			if tt.jobs != nil {
				for _, j := range tt.jobs(cj) {
					objs = append(objs, j)
					if err := jobIndex.Add(j); err != nil {
						t.Fatal(err)
					}
				}
			}
			kube := fake.NewClientset(objs...)
			cjIndex := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
			if err := cjIndex.Add(cj); err != nil {
				t.Fatal(err)
			}
			rec := record.NewFakeRecorder(100)
			c := &Controller{kube: kube, cronJobs: batchlisters.NewCronJobLister(cjIndex), jobs: batchlisters.NewJobLister(jobIndex),
				recorder: rec, now: func() time.Time { return now }}

			next, err := c.sync(context.Background(), "ns/hello")
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			jobs, _ := kube.BatchV1().Jobs("ns").List(ctx, metav1.ListOptions{})
			var names []string
			for _, j := range jobs.Items {
				names = append(names, j.Name)
				if want := j.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; want == "" || metav1.GetControllerOf(&j) == nil {
					t.Errorf("job %s: annotations %v owners %v", j.Name, j.Annotations, j.OwnerReferences)
				}
			}
			slices.Sort(names)
			if tt.wantJobs != nil && !slices.Equal(names, tt.wantJobs) {
				t.Errorf("jobs = %q, want %q", names, tt.wantJobs)
			}
			got, _ := kube.BatchV1().CronJobs("ns").Get(ctx, "hello", metav1.GetOptions{})
			var active []string
			for _, r := range got.Status.Active {
				active = append(active, r.Name)
			}
			if !slices.Equal(active, tt.wantActive) {
				t.Errorf("active = %q, want %q", active, tt.wantActive)
			}
			if tt.wantLast != nil && (got.Status.LastScheduleTime == nil || !got.Status.LastScheduleTime.Time.Equal(*tt.wantLast)) {
				t.Errorf("lastScheduleTime = %v, want %v", got.Status.LastScheduleTime, *tt.wantLast)
			}
			if tt.wantNext != nil && (next == nil || *next != *tt.wantNext) {
				t.Errorf("next = %v, want %s", next, *tt.wantNext)
			}
			if tt.wantNext == nil && tt.name == "suspended: nothing happens" && next != nil {
				t.Errorf("next = %s, want none", *next)
			}
			var events []string
			for len(rec.Events) > 0 {
				events = append(events, <-rec.Events)
			}
			for _, prefix := range tt.wantEvents {
				if !slices.ContainsFunc(events, func(e string) bool { return strings.HasPrefix(e, prefix) }) {
					t.Errorf("missing event %q in %q", prefix, events)
				}
			}
		})
	}
}

func TestSchedule(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		tz       *string
		last     time.Time
		now      time.Time
		want     *time.Time // most recent unmet start
		wantNext time.Duration
	}{
		{name: "@hourly", schedule: "@hourly", last: created, now: now, want: ptr.To(time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)), wantNext: 59*time.Minute + 30*time.Second},
		{name: "nothing due", schedule: "30 10 * * *", last: created, now: now, wantNext: 29*time.Minute + 30*time.Second},
		{name: "spec.timeZone moves the clock", schedule: "0 11 * * *", tz: ptr.To("Europe/Berlin"), last: created, now: now,
			want: ptr.To(time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)), wantNext: 23*time.Hour + 59*time.Minute + 30*time.Second},
		{name: "TZ= prefix", schedule: "TZ=Asia/Tokyo 0 19 * * *", last: created, now: now,
			want: ptr.To(time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)), wantNext: 23*time.Hour + 59*time.Minute + 30*time.Second},
		{name: "weekdays only, missed for a month", schedule: "0 9 * * 1-5", last: time.Date(2025, 12, 1, 9, 0, 0, 0, time.UTC),
			now: time.Date(2026, 1, 3, 12, 0, 0, 0, time.UTC), want: ptr.To(time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)), // Jan 3 is a Saturday
			wantNext: 45 * time.Hour}, // Monday 09:00
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cj := cronJob(tt.schedule)
			cj.Spec.TimeZone = tt.tz
			cj.Status.LastScheduleTime = &metav1.Time{Time: tt.last}
			sched, err := parseSchedule(cj)
			if err != nil {
				t.Fatal(err)
			}
			_, u, err := mostRecent(cj, sched, tt.now, true)
			if err != nil {
				t.Fatal(err)
			}
			if (u.latest == nil) != (tt.want == nil) || (u.latest != nil && !u.latest.Equal(*tt.want)) {
				t.Errorf("most recent = %v, want %v", u.latest, tt.want)
			}
			next, err := nextRun(cj, sched, tt.now)
			if err != nil || next != tt.wantNext+nextScheduleDelta {
				t.Errorf("next run in %s (%v), want %s", next, err, tt.wantNext+nextScheduleDelta)
			}
		})
	}
	if _, err := parseSchedule(cronJob("61 * * * *")); err == nil {
		t.Error("a bad schedule parsed")
	}
}
