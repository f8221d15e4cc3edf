package tables

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

var jobPrinter = typed[batchv1.Job]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Status", "string", "Status of the job."),
		column("Completions", "string", batchv1.JobStatus{}.SwaggerDoc()["succeeded"]),
		column("Duration", "string", "Time required to complete the job."),
		ageColumn(),
		wide("Containers", "string", containersDoc),
		wide("Images", "string", imagesDoc),
		wide("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"]),
	},
	cells: func(j *batchv1.Job) []interface{} {
		names, images := containerCells(j.Spec.Template.Spec.Containers)
		return []interface{}{
			j.Name,
			jobStatus(j),
			jobCompletions(j),
			jobDuration(j),
			since(j.CreationTimestamp),
			names, images,
			metav1.FormatLabelSelector(j.Spec.Selector),
		}
	},
}

// jobStatus condenses the Job's conditions; the terminal ones win over a
// deletion in progress, which wins over the transient ones.
func jobStatus(j *batchv1.Job) string {
	switch {
	case jobCondition(j, batchv1.JobComplete):
		return "Complete"
	case jobCondition(j, batchv1.JobFailed):
		return "Failed"
	case j.DeletionTimestamp != nil:
		return "Terminating"
	case jobCondition(j, batchv1.JobSuspended):
		return "Suspended"
	case jobCondition(j, batchv1.JobFailureTarget):
		return "FailureTarget"
	}
	return "Running"
}

func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// jobCompletions is "succeeded/completions"; a Job without completions
// (a work queue) needs one success, and says how many pods run in parallel:
// "0/1 of 3".
func jobCompletions(j *batchv1.Job) string {
	if j.Spec.Completions != nil {
		return fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	}
	if p := replicasOr(j.Spec.Parallelism, 1); p > 1 {
		return fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, p)
	}
	return fmt.Sprintf("%d/1", j.Status.Succeeded)
}

// jobDuration is empty before the Job started, running time while it runs,
// and start-to-completion once complete.
func jobDuration(j *batchv1.Job) string {
	switch {
	case j.Status.StartTime == nil:
		return ""
	case j.Status.CompletionTime == nil:
		return duration.HumanDuration(now().Sub(j.Status.StartTime.Time))
	default:
		return duration.HumanDuration(j.Status.CompletionTime.Sub(j.Status.StartTime.Time))
	}
}

var cronJobPrinter = typed[batchv1.CronJob]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Schedule", "string", batchv1.CronJobSpec{}.SwaggerDoc()["schedule"]),
		column("Timezone", "string", batchv1.CronJobSpec{}.SwaggerDoc()["timeZone"]),
		column("Suspend", "boolean", batchv1.CronJobSpec{}.SwaggerDoc()["suspend"]),
		column("Active", "integer", batchv1.CronJobStatus{}.SwaggerDoc()["active"]),
		column("Last Schedule", "string", batchv1.CronJobStatus{}.SwaggerDoc()["lastScheduleTime"]),
		ageColumn(),
		wide("Containers", "string", containersDoc),
		wide("Images", "string", imagesDoc),
		wide("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"]),
	},
	cells: func(cj *batchv1.CronJob) []interface{} {
		lastSchedule := "<none>"
		if cj.Status.LastScheduleTime != nil {
			lastSchedule = since(*cj.Status.LastScheduleTime)
		}
		timeZone := "<none>"
		if cj.Spec.TimeZone != nil {
			timeZone = *cj.Spec.TimeZone
		}
		// Upstream declares Suspend as a boolean column but sends the
		// strings "True"/"False"; suspend defaults to false on write.
		suspend := "False"
		if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
			suspend = "True"
		}
		tmpl := cj.Spec.JobTemplate.Spec
		names, images := containerCells(tmpl.Template.Spec.Containers)
		return []interface{}{
			cj.Name,
			cj.Spec.Schedule,
			timeZone,
			suspend,
			int64(len(cj.Status.Active)),
			lastSchedule,
			since(cj.CreationTimestamp),
			names, images,
			metav1.FormatLabelSelector(tmpl.Selector),
		}
	},
}
