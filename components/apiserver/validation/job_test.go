package validation

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestJobCreate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(j *batchv1.Job)
		want   []string
	}{
		{"docs example with generated selector is valid", func(j *batchv1.Job) {}, nil},
		{"restartPolicy Always", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways },
			[]string{`spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"`}},
		{"negative parallelism", func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](-1) },
			[]string{"spec.parallelism: Invalid value: -1: must be greater than or equal to 0"}},
		{"negative completions", func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](-2) },
			[]string{"spec.completions: Invalid value: -2: must be greater than or equal to 0"}},
		{"negative backoffLimit", func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To[int32](-1) },
			[]string{"spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"}},
		{"Indexed without completions", func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Completions = nil
		}, []string{"spec.completions: Required value: when completion mode is Indexed"}},
		{"own selector without manualSelector", func(j *batchv1.Job) {
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
		}, []string{"spec.selector: Invalid value: {\"matchLabels\":{\"a\":\"b\"}}: `selector` not auto-generated",
			"spec.template.metadata.labels: Invalid value"}},
		{"manual selector that matches", func(j *batchv1.Job) {
			j.Spec.ManualSelector = ptr.To(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"job-name": "pi"}}
		}, nil},
		{"template lost its uid label", func(j *batchv1.Job) { delete(j.Spec.Template.Labels, "controller-uid") },
			[]string{"spec.template.metadata.labels[controller-uid]: Required value: must be '" + piUID + "'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := piJob()
			tt.mutate(j)
			check(t, Create(j), tt.want...)
		})
	}
}

func TestJobUpdate(t *testing.T) {
	tests := []struct {
		name    string
		suspend bool
		mutate  func(j *batchv1.Job)
		want    []string
	}{
		{"parallelism may change", false, func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](3) }, nil},
		{"template is immutable", false, func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:5.40" },
			[]string{"spec.template: Invalid value: "}},
		{"suspended job may be placed", true, func(j *batchv1.Job) {
			j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"}
			j.Spec.Template.Spec.SchedulingGates = nil
		}, nil},
		{"suspended job still keeps its containers", true, func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Command = nil },
			[]string{"spec.template: Invalid value: "}},
		{"completions are immutable", false, func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](5) },
			[]string{"spec.completions: Invalid value: 5: field is immutable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := piJob()
			old.ResourceVersion = "9"
			old.Spec.Suspend = ptr.To(tt.suspend)
			j := old.DeepCopy()
			tt.mutate(j)
			errs := Update(j, old)
			// The template error carries the whole template; compare the start.
			for _, e := range errs {
				if strings.HasPrefix(e.Field, "spec.template") && e.Detail != "field is immutable" {
					t.Errorf("unexpected detail %q", e.Detail)
				}
			}
			check(t, errs, tt.want...)
		})
	}
}

func TestCronJob(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(cj *batchv1.CronJob)
		want   []string
	}{
		{"docs example is valid", func(cj *batchv1.CronJob) {}, nil},
		{"@hourly is valid", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "@hourly" }, nil},
		{"no schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "" },
			[]string{"spec.schedule: Required value"}},
		{"four fields", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "* * * *" },
			[]string{`spec.schedule: Invalid value: "* * * *": expected exactly 5 fields, found 4: [* * * *]`}},
		{"TZ in schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "CRON_TZ=UTC 0 * * * *" },
			[]string{"spec.schedule: Invalid value: \"CRON_TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"}},
		{"name too long", func(cj *batchv1.CronJob) { cj.Name = strings.Repeat("a", 53) },
			[]string{"metadata.name: Invalid value: \"" + strings.Repeat("a", 53) + "\": must be no more than 52 characters"}},
		{"unknown concurrencyPolicy", func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = "Sometimes" },
			[]string{`spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"`}},
		{"job template restartPolicy Always", func(cj *batchv1.CronJob) {
			cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		}, []string{`spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: "Always"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cj := helloCronJob()
			tt.mutate(cj)
			check(t, Create(cj), tt.want...)
		})
	}
}
