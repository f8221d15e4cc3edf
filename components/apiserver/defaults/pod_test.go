package defaults

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// wantEqual fails with a readable diff when got and want differ.
func wantEqual(t *testing.T, got, want any) {
	t.Helper()
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("defaults differ (-want +got):\n%s", diff.Diff(want, got))
	}
}

// defaultTolerations are the two tolerations every pod gets.
func defaultTolerations() []corev1.Toleration {
	return []corev1.Toleration{
		{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
		{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
	}
}

func TestPodFromTheDocs(t *testing.T) {
	// kubectl run nginx --image=nginx:1.14.2 --port=80
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "nginx", Image: "nginx:1.14.2",
			Ports: []corev1.ContainerPort{{ContainerPort: 80}},
		}}},
	}
	Apply(p)
	want := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "nginx", Image: "nginx:1.14.2",
				Ports:                    []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
				ImagePullPolicy:          corev1.PullIfNotPresent,
				TerminationMessagePath:   "/dev/termination-log",
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			}},
			RestartPolicy:                 corev1.RestartPolicyAlways,
			DNSPolicy:                     corev1.DNSClusterFirst,
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			SchedulerName:                 "default-scheduler",
			SecurityContext:               &corev1.PodSecurityContext{},
			EnableServiceLinks:            ptr.To(true),
			ServiceAccountName:            "default",
			DeprecatedServiceAccount:      "default",
			Tolerations:                   defaultTolerations(),
			Priority:                      ptr.To[int32](0),
			PreemptionPolicy:              ptr.To(corev1.PreemptLowerPriority),
		},
	}
	wantEqual(t, p, want)
}

func TestPullPolicy(t *testing.T) {
	tests := []struct {
		image string
		want  corev1.PullPolicy
	}{
		{"nginx", corev1.PullAlways},
		{"nginx:latest", corev1.PullAlways},
		{"nginx:1.25", corev1.PullIfNotPresent},
		{"localhost:5000/app", corev1.PullAlways},
		{"localhost:5000/app:v1", corev1.PullIfNotPresent},
		{"busybox@sha256:0123456789abcdef", corev1.PullIfNotPresent},
		{"busybox:latest@sha256:0123456789abcdef", corev1.PullAlways},
		{"", corev1.PullAlways},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			if got := pullPolicy(tt.image); got != tt.want {
				t.Errorf("pullPolicy(%q) = %s, want %s", tt.image, got, tt.want)
			}
		})
	}
	t.Run("explicit policy is kept", func(t *testing.T) {
		c := corev1.Container{Image: "nginx", ImagePullPolicy: corev1.PullNever}
		container(&c)
		if c.ImagePullPolicy != corev1.PullNever {
			t.Errorf("imagePullPolicy = %s, want Never", c.ImagePullPolicy)
		}
	})
}

func TestContainerParts(t *testing.T) {
	c := corev1.Container{
		Name: "app", Image: "app:1",
		Env: []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
			HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(8080)},
		}},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090}}, PeriodSeconds: 5},
		Lifecycle:      &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/stop"}}},
	}
	container(&c)
	t.Run("fieldRef apiVersion", func(t *testing.T) {
		wantEqual(t, c.Env[0].ValueFrom.FieldRef.APIVersion, "v1")
	})
	t.Run("liveness probe", func(t *testing.T) {
		wantEqual(t, c.LivenessProbe, &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/", Port: intstr.FromInt32(8080), Scheme: corev1.URISchemeHTTP,
			}},
			TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
		})
	})
	t.Run("readiness probe keeps periodSeconds and gets grpc service", func(t *testing.T) {
		wantEqual(t, c.ReadinessProbe, &corev1.Probe{
			ProbeHandler:   corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090, Service: ptr.To("")}},
			TimeoutSeconds: 1, PeriodSeconds: 5, SuccessThreshold: 1, FailureThreshold: 3,
		})
	})
	t.Run("lifecycle httpGet scheme", func(t *testing.T) {
		wantEqual(t, c.Lifecycle.PreStop.HTTPGet.Scheme, corev1.URISchemeHTTP)
	})
}

func TestVolumes(t *testing.T) {
	tests := []struct {
		name string
		in   corev1.VolumeSource
		want corev1.VolumeSource
	}{
		{"no source is emptyDir", corev1.VolumeSource{},
			corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{"configMap mode 0644", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, DefaultMode: ptr.To[int32](420)}}},
		{"secret mode 0644", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}},
			corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s", DefaultMode: ptr.To[int32](420)}}},
		{"explicit mode kept", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s", DefaultMode: ptr.To[int32](256)}},
			corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s", DefaultMode: ptr.To[int32](256)}}},
		{"hostPath type", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data"}},
			corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data", Type: ptr.To(corev1.HostPathUnset)}}},
		{"projected token expiry", corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}},
			corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{DefaultMode: ptr.To[int32](420), Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3600)}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := corev1.Volume{Name: "v", VolumeSource: tt.in}
			volume(&v)
			wantEqual(t, v.VolumeSource, tt.want)
		})
	}
}

func TestPodOnlyDefaults(t *testing.T) {
	t.Run("requests copied from limits", func(t *testing.T) {
		p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "c:1",
			Resources: corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{"cpu": resource.MustParse("1"), "memory": resource.MustParse("64Mi")},
				Requests: corev1.ResourceList{"cpu": resource.MustParse("500m")},
			},
		}}}}
		Apply(p)
		wantEqual(t, p.Spec.Containers[0].Resources.Requests, corev1.ResourceList{
			"cpu": resource.MustParse("500m"), "memory": resource.MustParse("64Mi"),
		})
	})
	t.Run("hostNetwork hostPort", func(t *testing.T) {
		p := &corev1.Pod{Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{
			Name: "c", Image: "c:1", Ports: []corev1.ContainerPort{{ContainerPort: 53}},
		}}}}
		Apply(p)
		wantEqual(t, p.Spec.Containers[0].Ports[0].HostPort, int32(53))
	})
	t.Run("system priority class", func(t *testing.T) {
		p := &corev1.Pod{Spec: corev1.PodSpec{PriorityClassName: "system-cluster-critical"}}
		Apply(p)
		wantEqual(t, *p.Spec.Priority, int32(2000000000))
	})
	t.Run("mirror pod keeps no service account", func(t *testing.T) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{corev1.MirrorPodAnnotationKey: "x"}}}
		Apply(p)
		wantEqual(t, p.Spec.ServiceAccountName, "")
	})
	t.Run("podIP mirrored into podIPs", func(t *testing.T) {
		p := &corev1.Pod{Status: corev1.PodStatus{PodIP: "10.200.0.5", HostIPs: []corev1.HostIP{{IP: "10.240.0.11"}}}}
		Apply(p)
		wantEqual(t, p.Status.PodIPs, []corev1.PodIP{{IP: "10.200.0.5"}})
		wantEqual(t, p.Status.HostIP, "10.240.0.11")
	})
}

func TestTolerations(t *testing.T) {
	notReady := corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](60)}
	all := corev1.Toleration{Operator: corev1.TolerationOpExists}
	tests := []struct {
		name string
		in   []corev1.Toleration
		want []corev1.Toleration
	}{
		{"none given", nil, defaultTolerations()},
		{"own not-ready kept", []corev1.Toleration{notReady}, []corev1.Toleration{notReady, defaultTolerations()[1]}},
		{"tolerate everything", []corev1.Toleration{all}, []corev1.Toleration{all}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := corev1.PodSpec{Tolerations: tt.in}
			tolerationAdmission(&spec)
			wantEqual(t, spec.Tolerations, tt.want)
		})
	}
}
