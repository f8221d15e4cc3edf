package validation

import (
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// job mirrors upstream's ValidateJob (pkg/apis/batch/validation).
func job(j *batchv1.Job) field.ErrorList {
	errs := objectMeta(&j.ObjectMeta, schema.GroupKind{Group: "batch", Kind: "Job"})
	errs = append(errs, generatedSelector(j)...)
	return append(errs, jobSpec(&j.Spec, specPath, true)...)
}

// generatedSelector: unless the user took over with manualSelector, the
// selector must be the one the API server generated from the Job's UID, and
// the template must carry the matching labels. This is what stops two Jobs
// from adopting each other's pods.
func generatedSelector(j *batchv1.Job) field.ErrorList {
	if ptr.Deref(j.Spec.ManualSelector, false) || j.Spec.Selector == nil {
		return nil
	}
	var errs field.ErrorList
	uid := string(j.UID)
	if uid == "" {
		errs = append(errs, field.Required(metadataPath.Child("uid"), ""))
	}
	expected := labels.Set{
		"controller-uid": uid, batchv1.ControllerUidLabel: uid,
		"job-name": j.Name, batchv1.JobNameLabel: j.Name,
	}
	tp := specPath.Child("template", "metadata", "labels")
	for _, key := range []string{"controller-uid", "job-name", batchv1.ControllerUidLabel, batchv1.JobNameLabel} {
		got, ok := j.Spec.Template.Labels[key]
		switch {
		case !ok:
			errs = append(errs, field.Required(tp.Key(key), fmt.Sprintf("must be '%s'", expected[key])))
		case got != expected[key]:
			errs = append(errs, field.Invalid(tp.Key(key), j.Spec.Template.Labels, fmt.Sprintf("must be '%s'", expected[key])))
		}
	}
	if selector, err := metav1.LabelSelectorAsSelector(j.Spec.Selector); err == nil && !selector.Matches(expected) {
		errs = append(errs, field.Invalid(specPath.Child("selector"), j.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

// jobSpec mirrors upstream's validateJobSpec. A CronJob's jobTemplate has no
// selector yet (each Job generates its own), hence requireSelector.
func jobSpec(s *batchv1.JobSpec, p *field.Path, requireSelector bool) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name  string
		value *int32
	}{{"parallelism", s.Parallelism}, {"completions", s.Completions}, {"backoffLimit", s.BackoffLimit},
		{"ttlSecondsAfterFinished", s.TTLSecondsAfterFinished}, {"backoffLimitPerIndex", s.BackoffLimitPerIndex},
		{"maxFailedIndexes", s.MaxFailedIndexes}} {
		if f.value != nil {
			errs = append(errs, nonNegative(*f.value, p.Child(f.name))...)
		}
	}
	if s.ActiveDeadlineSeconds != nil {
		errs = append(errs, nonNegative(*s.ActiveDeadlineSeconds, p.Child("activeDeadlineSeconds"))...)
	}
	if s.CompletionMode != nil {
		errs = append(errs, oneOf(string(*s.CompletionMode), p.Child("completionMode"),
			string(batchv1.NonIndexedCompletion), string(batchv1.IndexedCompletion))...)
		if *s.CompletionMode == batchv1.IndexedCompletion && s.Completions == nil {
			errs = append(errs, field.Required(p.Child("completions"), "when completion mode is Indexed"))
		}
	}
	if s.BackoffLimitPerIndex != nil && ptr.Deref(s.CompletionMode, "") != batchv1.IndexedCompletion {
		errs = append(errs, field.Required(p.Child("completionMode"), "when backoffLimitPerIndex is specified, completionMode must be Indexed"))
	}
	if s.PodReplacementPolicy != nil {
		errs = append(errs, oneOf(string(*s.PodReplacementPolicy), p.Child("podReplacementPolicy"),
			string(batchv1.Failed), string(batchv1.TerminatingOrFailed))...)
	}

	sp := p.Child("selector")
	if s.Selector == nil {
		if requireSelector {
			errs = append(errs, field.Required(sp, ""))
		}
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, sp)...)
		if selector, err := metav1.LabelSelectorAsSelector(s.Selector); err == nil && !selector.Matches(labels.Set(s.Template.Labels)) {
			errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), s.Template.Labels, "`selector` does not match template `labels`"))
		}
	}

	errs = append(errs, podTemplateSpec(&s.Template, p.Child("template"), nil)...)
	// A Job's pods run to completion: "Always" would restart a finished pod
	// forever and the Job could never succeed.
	switch rp := s.Template.Spec.RestartPolicy; {
	case rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever:
		errs = append(errs, field.NotSupported(p.Child("template", "spec", "restartPolicy"), rp,
			[]corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	case rp == corev1.RestartPolicyOnFailure && s.PodFailurePolicy != nil:
		errs = append(errs, field.Invalid(p.Child("template", "spec", "restartPolicy"), rp,
			"only \"Never\" is supported when podFailurePolicy is specified"))
	}
	return errs
}

// jobUpdate: the selector and the template (which selects and shapes the
// pods already running) are fixed. Upstream makes an exception for a Job
// that is suspended and has not started: it may still be told where to run
// (node selector, affinity, tolerations, scheduling gates, labels and
// annotations), which is how queueing systems like Kueue place Jobs.
func jobUpdate(newJob, oldJob *batchv1.Job) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, apimachineryvalidation.ValidateImmutableField(newJob.Spec.Selector, oldJob.Spec.Selector, specPath.Child("selector"))...)
	errs = append(errs, apimachineryvalidation.ValidateImmutableField(newJob.Spec.CompletionMode, oldJob.Spec.CompletionMode, specPath.Child("completionMode"))...)
	errs = append(errs, apimachineryvalidation.ValidateImmutableField(newJob.Spec.PodFailurePolicy, oldJob.Spec.PodFailurePolicy, specPath.Child("podFailurePolicy"))...)
	errs = append(errs, apimachineryvalidation.ValidateImmutableField(newJob.Spec.BackoffLimitPerIndex, oldJob.Spec.BackoffLimitPerIndex, specPath.Child("backoffLimitPerIndex"))...)
	// Elastic Indexed Jobs may scale completions together with parallelism.
	indexedScale := ptr.Deref(newJob.Spec.CompletionMode, "") == batchv1.IndexedCompletion &&
		ptr.Equal(newJob.Spec.Completions, newJob.Spec.Parallelism)
	if !indexedScale {
		errs = append(errs, apimachineryvalidation.ValidateImmutableField(newJob.Spec.Completions, oldJob.Spec.Completions, specPath.Child("completions"))...)
	}

	template := newJob.Spec.Template.DeepCopy()
	if ptr.Deref(oldJob.Spec.Suspend, false) && oldJob.Status.StartTime == nil {
		old := oldJob.Spec.Template
		template.Labels, template.Annotations = old.Labels, old.Annotations
		template.Spec.NodeSelector, template.Spec.Affinity = old.Spec.NodeSelector, old.Spec.Affinity
		template.Spec.Tolerations, template.Spec.SchedulingGates = old.Spec.Tolerations, old.Spec.SchedulingGates
	}
	if !equality.Semantic.DeepEqual(*template, oldJob.Spec.Template) {
		errs = append(errs, field.Invalid(specPath.Child("template"), newJob.Spec.Template, apimachineryvalidation.FieldImmutableErrorMsg))
	}
	return errs
}

// cronJob mirrors upstream's ValidateCronJobCreate. The schedule is checked
// for shape (five fields, or an @-macro); the exact ranges are the
// CronJob controller's business.
func cronJob(cj *batchv1.CronJob) field.ErrorList {
	errs := objectMeta(&cj.ObjectMeta, kindCronJob)
	s := &cj.Spec
	errs = append(errs, cronSchedule(s.Schedule, specPath.Child("schedule"))...)
	if s.StartingDeadlineSeconds != nil {
		errs = append(errs, nonNegative(*s.StartingDeadlineSeconds, specPath.Child("startingDeadlineSeconds"))...)
	}
	errs = append(errs, oneOf(string(s.ConcurrencyPolicy), specPath.Child("concurrencyPolicy"),
		string(batchv1.AllowConcurrent), string(batchv1.ForbidConcurrent), string(batchv1.ReplaceConcurrent))...)
	if s.SuccessfulJobsHistoryLimit != nil {
		errs = append(errs, nonNegative(*s.SuccessfulJobsHistoryLimit, specPath.Child("successfulJobsHistoryLimit"))...)
	}
	if s.FailedJobsHistoryLimit != nil {
		errs = append(errs, nonNegative(*s.FailedJobsHistoryLimit, specPath.Child("failedJobsHistoryLimit"))...)
	}
	jt := specPath.Child("jobTemplate")
	errs = append(errs, metav1validation.ValidateLabels(s.JobTemplate.Labels, jt.Child("metadata", "labels"))...)
	errs = append(errs, apimachineryvalidation.ValidateAnnotations(s.JobTemplate.Annotations, jt.Child("metadata", "annotations"))...)
	return append(errs, jobSpec(&s.JobTemplate.Spec, jt.Child("spec"), false)...)
}

var cronMacros = map[string]bool{
	"@yearly": true, "@annually": true, "@monthly": true, "@weekly": true,
	"@daily": true, "@midnight": true, "@hourly": true,
}

func cronSchedule(schedule string, p *field.Path) field.ErrorList {
	if schedule == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	if strings.Contains(schedule, "TZ") {
		return field.ErrorList{field.Invalid(p, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead")}
	}
	if strings.HasPrefix(schedule, "@") {
		if cronMacros[schedule] || strings.HasPrefix(schedule, "@every ") {
			return nil
		}
		return field.ErrorList{field.Invalid(p, schedule, "unrecognized descriptor: "+schedule)}
	}
	if fields := strings.Fields(schedule); len(fields) != 5 {
		return field.ErrorList{field.Invalid(p, schedule, fmt.Sprintf("expected exactly 5 fields, found %d: %v", len(fields), fields))}
	}
	return nil
}
