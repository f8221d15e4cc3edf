package defaults

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func template(labels map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.25"}}},
	}
}

func TestDeployment(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: template(map[string]string{"app": "web"})}}
	Apply(d)
	wantEqual(t, d.Spec.Replicas, ptr.To[int32](1))
	wantEqual(t, d.Spec.Strategy, appsv1.DeploymentStrategy{
		Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxUnavailable: ptr.To(intstr.FromString("25%")),
			MaxSurge:       ptr.To(intstr.FromString("25%")),
		},
	})
	wantEqual(t, d.Spec.RevisionHistoryLimit, ptr.To[int32](10))
	wantEqual(t, d.Spec.ProgressDeadlineSeconds, ptr.To[int32](600))

	t.Run("template gets spec defaults but not pod-only ones", func(t *testing.T) {
		spec := d.Spec.Template.Spec
		wantEqual(t, spec.RestartPolicy, corev1.RestartPolicyAlways)
		wantEqual(t, spec.Containers[0].ImagePullPolicy, corev1.PullIfNotPresent)
		if spec.Tolerations != nil || spec.EnableServiceLinks != nil || spec.Priority != nil || spec.ServiceAccountName != "" {
			t.Errorf("template got pod-only defaults: %+v", spec)
		}
	})
	t.Run("Recreate gets no rollingUpdate", func(t *testing.T) {
		d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}}}
		Apply(d)
		wantEqual(t, d.Spec.Strategy.RollingUpdate, (*appsv1.RollingUpdateDeployment)(nil))
	})
}

func TestOtherWorkloads(t *testing.T) {
	t.Run("ReplicaSet", func(t *testing.T) {
		rs := &appsv1.ReplicaSet{}
		Apply(rs)
		wantEqual(t, rs.Spec.Replicas, ptr.To[int32](1))
	})
	t.Run("DaemonSet", func(t *testing.T) {
		ds := &appsv1.DaemonSet{}
		Apply(ds)
		wantEqual(t, ds.Spec.UpdateStrategy, appsv1.DaemonSetUpdateStrategy{
			Type: appsv1.RollingUpdateDaemonSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDaemonSet{
				MaxUnavailable: ptr.To(intstr.FromInt32(1)),
				MaxSurge:       ptr.To(intstr.FromInt32(0)),
			},
		})
		wantEqual(t, ds.Spec.RevisionHistoryLimit, ptr.To[int32](10))
	})
	t.Run("StatefulSet", func(t *testing.T) {
		ss := &appsv1.StatefulSet{}
		Apply(ss)
		wantEqual(t, ss.Spec, appsv1.StatefulSetSpec{
			Replicas:            ptr.To[int32](1),
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
				Type:          appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0)},
			},
			RevisionHistoryLimit: ptr.To[int32](10),
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
				WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst,
				TerminationGracePeriodSeconds: ptr.To[int64](30), SchedulerName: "default-scheduler",
				SecurityContext: &corev1.PodSecurityContext{},
			}},
		})
	})
	t.Run("ReplicationController copies template labels", func(t *testing.T) {
		tmpl := template(map[string]string{"app": "old"})
		rc := &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: &tmpl}}
		Apply(rc)
		wantEqual(t, rc.Spec.Selector, map[string]string{"app": "old"})
		wantEqual(t, rc.Labels, map[string]string{"app": "old"})
		wantEqual(t, rc.Spec.Replicas, ptr.To[int32](1))
	})
	t.Run("CronJob", func(t *testing.T) {
		cj := &batchv1.CronJob{}
		Apply(cj)
		wantEqual(t, cj.Spec.ConcurrencyPolicy, batchv1.AllowConcurrent)
		wantEqual(t, cj.Spec.Suspend, ptr.To(false))
		wantEqual(t, cj.Spec.SuccessfulJobsHistoryLimit, ptr.To[int32](3))
		wantEqual(t, cj.Spec.FailedJobsHistoryLimit, ptr.To[int32](1))
		wantEqual(t, cj.Spec.JobTemplate.Spec.Template.Spec.DNSPolicy, corev1.DNSClusterFirst)
		wantEqual(t, cj.Spec.JobTemplate.Spec.BackoffLimit, (*int32)(nil))
	})
}

func TestJob(t *testing.T) {
	const uid = "0b5a1c4e-1d9a-4a32-9a57-3f0f0e0b7a11"
	pi := func() *batchv1.Job {
		j := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: uid},
			Spec:       batchv1.JobSpec{Template: template(nil)},
		}
		j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		return j
	}
	generated := map[string]string{
		"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "pi",
		"controller-uid": uid, "job-name": "pi",
	}

	t.Run("spec defaults", func(t *testing.T) {
		j := pi()
		Apply(j)
		wantEqual(t, j.Spec.Parallelism, ptr.To[int32](1))
		wantEqual(t, j.Spec.Completions, ptr.To[int32](1))
		wantEqual(t, j.Spec.BackoffLimit, ptr.To[int32](6))
		wantEqual(t, j.Spec.CompletionMode, ptr.To(batchv1.NonIndexedCompletion))
		wantEqual(t, j.Spec.Suspend, ptr.To(false))
		wantEqual(t, j.Spec.PodReplacementPolicy, ptr.To(batchv1.TerminatingOrFailed))
		wantEqual(t, j.Spec.ManualSelector, (*bool)(nil))
		wantEqual(t, j.Spec.Template.Spec.RestartPolicy, corev1.RestartPolicyNever)
	})
	t.Run("work queue keeps completions unset", func(t *testing.T) {
		j := pi()
		j.Spec.Parallelism = ptr.To[int32](3)
		Apply(j)
		wantEqual(t, j.Spec.Completions, (*int32)(nil))
	})
	t.Run("generated selector and labels", func(t *testing.T) {
		j := pi()
		Apply(j)
		wantEqual(t, j.Spec.Selector, &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": uid}})
		wantEqual(t, j.Spec.Template.Labels, generated)
		wantEqual(t, j.Labels, generated)
	})
	t.Run("own labels kept on the Job", func(t *testing.T) {
		j := pi()
		j.Labels = map[string]string{"team": "math"}
		Apply(j)
		wantEqual(t, j.Labels, map[string]string{"team": "math"})
	})
	t.Run("manualSelector generates nothing", func(t *testing.T) {
		j := pi()
		j.Spec.ManualSelector = ptr.To(true)
		Apply(j)
		wantEqual(t, j.Spec.Selector, (*metav1.LabelSelector)(nil))
	})
	t.Run("no uid yet generates nothing", func(t *testing.T) {
		j := pi()
		j.UID = ""
		Apply(j)
		wantEqual(t, j.Spec.Selector, (*metav1.LabelSelector)(nil))
	})
}
