package validation

import (
	"strings"
	"testing"

	"github.com/kubelab/kubelab/components/apiserver/defaults"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// check asserts that errs are exactly the wanted errors, each given as the
// beginning of its message as kubectl prints it, for example
// "spec.containers[0].image: Required value".
func check(t *testing.T, errs field.ErrorList, want ...string) {
	t.Helper()
	got := make([]string, len(errs))
	for i, e := range errs {
		got[i] = e.Error()
	}
	used := make([]bool, len(got))
	var missing []string
	for _, w := range want {
		found := false
		for i, g := range got {
			if !used[i] && strings.HasPrefix(g, w) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			missing = append(missing, w)
		}
	}
	var extra []string
	for i, g := range got {
		if !used[i] {
			extra = append(extra, g)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("errors differ\nmissing:\n  %s\nunexpected:\n  %s", strings.Join(missing, "\n  "), strings.Join(extra, "\n  "))
	}
}

// defaulted returns obj after defaulting, as the registry hands it over.
func defaulted[T runtime.Object](obj T) T {
	defaults.Apply(obj)
	return obj
}

// The fixtures below are the examples from the Kubernetes documentation.

func nginxPod() *corev1.Pod {
	return defaulted(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default", UID: "a1", Labels: map[string]string{"app": "nginx"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "nginx", Image: "nginx:1.14.2",
			Ports: []corev1.ContainerPort{{ContainerPort: 80}},
		}}},
	})
}

func nginxTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "nginx"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "nginx", Image: "nginx:1.14.2",
			Ports: []corev1.ContainerPort{{ContainerPort: 80}},
		}}},
	}
}

func nginxDeployment() *appsv1.Deployment {
	return defaulted(&appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx-deployment", Namespace: "default", Labels: map[string]string{"app": "nginx"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
			Template: nginxTemplate(),
		},
	})
}

func fluentdDaemonSet() *appsv1.DaemonSet {
	t := nginxTemplate()
	t.Labels = map[string]string{"name": "fluentd-elasticsearch"}
	t.Spec.Containers[0].Ports = nil
	t.Spec.Tolerations = []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	t.Spec.Volumes = []corev1.Volume{{Name: "varlog", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}}}
	t.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "varlog", MountPath: "/var/log"}}
	t.Spec.Containers[0].Resources = corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{"memory": resource.MustParse("200Mi")},
		Requests: corev1.ResourceList{"cpu": resource.MustParse("100m"), "memory": resource.MustParse("200Mi")},
	}
	return defaulted(&appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "fluentd-elasticsearch", Namespace: "kube-system"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"name": "fluentd-elasticsearch"}},
			Template: t,
		},
	})
}

func webStatefulSet() *appsv1.StatefulSet {
	t := nginxTemplate()
	t.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "www", MountPath: "/usr/share/nginx/html"}}
	return defaulted(&appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.StatefulSetSpec{
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
			ServiceName: "nginx",
			Replicas:    ptr.To[int32](3),
			Template:    t,
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "www"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{"storage": resource.MustParse("1Gi")}},
				},
			}},
		},
	})
}

const piUID = "0b5a1c4e-1d9a-4a32-9a57-3f0f0e0b7a11"

func piJob() *batchv1.Job {
	return defaulted(&batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: piUID},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](4),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{
					Name: "pi", Image: "perl:5.34.0",
					Command: []string{"perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"},
				}},
			}},
		},
	})
}

func helloCronJob() *batchv1.CronJob {
	return defaulted(&batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default"},
		Spec: batchv1.CronJobSpec{
			Schedule: "* * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyOnFailure,
					Containers: []corev1.Container{{
						Name: "hello", Image: "busybox:1.28", ImagePullPolicy: corev1.PullIfNotPresent,
						Command: []string{"/bin/sh", "-c", "date; echo Hello from the Kubernetes cluster"},
					}},
				}},
			}},
		},
	})
}

func myService() *corev1.Service {
	return defaulted(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "my-service", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app.kubernetes.io/name": "MyApp"},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(9376)}},
		},
	})
}
