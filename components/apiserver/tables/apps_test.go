package tables

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func template() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "web", Image: "nginx:1.27"}, {Name: "log", Image: "busybox:1.37"},
	}}}
}

var webSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}

func TestWorkloads(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: ago(3 * time.Hour)}
	tests := []struct {
		name    string
		gvk     schema.GroupVersionKind
		obj     runtime.Object
		columns []string
		cells   []interface{}
	}{
		{"deployment", appsv1.SchemeGroupVersion.WithKind("Deployment"),
			&appsv1.Deployment{ObjectMeta: meta,
				Spec:   appsv1.DeploymentSpec{Replicas: ptr(int32(3)), Selector: webSelector, Template: template()},
				Status: appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2}},
			[]string{"Name:string", "Ready:string", "Up-to-date:string", "Available:string", "Age:string", "Containers:string:wide", "Images:string:wide", "Selector:string:wide"},
			[]interface{}{"web", "2/3", int64(3), int64(2), "3h", "web,log", "nginx:1.27,busybox:1.37", "app=web"}},
		{"deployment with defaulted replicas", appsv1.SchemeGroupVersion.WithKind("Deployment"),
			&appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Template: template()}},
			nil,
			[]interface{}{"web", "0/1", int64(0), int64(0), "3h", "web,log", "nginx:1.27,busybox:1.37", ""}},
		{"replicaset", appsv1.SchemeGroupVersion.WithKind("ReplicaSet"),
			&appsv1.ReplicaSet{ObjectMeta: meta,
				Spec:   appsv1.ReplicaSetSpec{Replicas: ptr(int32(3)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "pod-template-hash": "7d4b9c6f5"}}, Template: template()},
				Status: appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 3}},
			[]string{"Name:string", "Desired:integer", "Current:integer", "Ready:integer", "Age:string", "Containers:string:wide", "Images:string:wide", "Selector:string:wide"},
			[]interface{}{"web", int64(3), int64(3), int64(3), "3h", "web,log", "nginx:1.27,busybox:1.37", "app=web,pod-template-hash=7d4b9c6f5"}},
		{"daemonset", appsv1.SchemeGroupVersion.WithKind("DaemonSet"),
			&appsv1.DaemonSet{ObjectMeta: meta,
				Spec: appsv1.DaemonSetSpec{Selector: webSelector, Template: func() corev1.PodTemplateSpec {
					t := template()
					t.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
					return t
				}()},
				Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 3, NumberAvailable: 2}},
			[]string{"Name:string", "Desired:integer", "Current:integer", "Ready:integer", "Up-to-date:integer", "Available:integer", "Node Selector:string", "Age:string", "Containers:string:wide", "Images:string:wide", "Selector:string:wide"},
			[]interface{}{"web", int64(3), int64(3), int64(2), int64(3), int64(2), "kubernetes.io/os=linux", "3h", "web,log", "nginx:1.27,busybox:1.37", "app=web"}},
		{"statefulset", appsv1.SchemeGroupVersion.WithKind("StatefulSet"),
			&appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(3)), Template: template()}, Status: appsv1.StatefulSetStatus{ReadyReplicas: 1}},
			[]string{"Name:string", "Ready:string", "Age:string", "Containers:string:wide", "Images:string:wide"},
			[]interface{}{"web", "1/3", "3h", "web,log", "nginx:1.27,busybox:1.37"}},
		{"controller revision", appsv1.SchemeGroupVersion.WithKind("ControllerRevision"),
			&appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "web-6c8f", CreationTimestamp: meta.CreationTimestamp,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "web", Controller: ptr(true)}}}, Revision: 2},
			[]string{"Name:string", "Controller:string", "Revision:string", "Age:string"},
			[]interface{}{"web-6c8f", "daemonset.apps/web", int64(2), "3h"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := For(tt.gvk)
			if tt.columns != nil {
				assertColumns(t, p, tt.columns...)
			}
			assertCells(t, p, tt.obj, tt.cells...)
		})
	}
}

func TestJob(t *testing.T) {
	p := For(batchv1.SchemeGroupVersion.WithKind("Job"))
	assertColumns(t, p, "Name:string", "Status:string", "Completions:string", "Duration:string", "Age:string",
		"Containers:string:wide", "Images:string:wide", "Selector:string:wide")

	job := func(mutate func(*batchv1.Job)) *batchv1.Job {
		j := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "pi", CreationTimestamp: ago(10 * time.Minute)},
			Spec: batchv1.JobSpec{
				Completions: ptr(int32(1)), Parallelism: ptr(int32(1)),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": "c0ffee"}},
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "pi", Image: "perl:5.40"}}}},
			},
		}
		mutate(j)
		return j
	}
	tests := []struct {
		name                             string
		job                              *batchv1.Job
		status, completions, durationCol string
	}{
		{"not started", job(func(*batchv1.Job) {}), "Running", "0/1", ""},
		{"running", job(func(j *batchv1.Job) { j.Status.StartTime = agoPtr(95 * time.Second) }), "Running", "0/1", "95s"},
		{"complete", job(func(j *batchv1.Job) {
			j.Status.StartTime, j.Status.CompletionTime, j.Status.Succeeded = agoPtr(9*time.Minute), agoPtr(8*time.Minute), 1
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue}, {Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
		}), "Complete", "1/1", "60s"},
		{"failed", job(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}
		}), "Failed", "0/1", ""},
		{"suspended", job(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue}}
		}), "Suspended", "0/1", ""},
		{"terminating", job(func(j *batchv1.Job) { j.DeletionTimestamp = agoPtr(time.Second) }), "Terminating", "0/1", ""},
		{"work queue", job(func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = nil, ptr(int32(3)) }), "Running", "0/1 of 3", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertCells(t, p, tt.job, "pi", tt.status, tt.completions, tt.durationCol, "10m", "pi", "perl:5.40", "batch.kubernetes.io/controller-uid=c0ffee")
		})
	}
}

func TestCronJob(t *testing.T) {
	p := For(batchv1.SchemeGroupVersion.WithKind("CronJob"))
	assertColumns(t, p, "Name:string", "Schedule:string", "Timezone:string", "Suspend:boolean", "Active:integer", "Last Schedule:string", "Age:string",
		"Containers:string:wide", "Images:string:wide", "Selector:string:wide")

	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "backup", CreationTimestamp: ago(50 * time.Hour)},
		Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "backup", Image: "busybox:1.37"}}}},
		}}},
	}
	t.Run("never ran", func(t *testing.T) {
		assertCells(t, p, cj, "backup", "*/5 * * * *", "<none>", "False", int64(0), "<none>", "2d2h", "backup", "busybox:1.37", "<none>")
	})
	t.Run("suspended with a time zone and an active job", func(t *testing.T) {
		c := cj.DeepCopy()
		c.Spec.Suspend, c.Spec.TimeZone = ptr(true), ptr("Europe/Berlin")
		c.Status.Active = []corev1.ObjectReference{{Name: "backup-29000000"}}
		c.Status.LastScheduleTime = agoPtr(4 * time.Minute)
		assertCells(t, p, c, "backup", "*/5 * * * *", "Europe/Berlin", "True", int64(1), "4m", "2d2h", "backup", "busybox:1.37", "<none>")
	})
}
