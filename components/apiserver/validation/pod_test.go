package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestPodCreate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   []string
	}{
		{"docs example is valid", func(p *corev1.Pod) {}, nil},
		{"uppercase name", func(p *corev1.Pod) { p.Name = "Foo" },
			[]string{`metadata.name: Invalid value: "Foo": a lowercase RFC 1123 subdomain must consist of`}},
		{"no name", func(p *corev1.Pod) { p.Name = "" },
			[]string{"metadata.name: Required value: name or generateName is required"}},
		{"no namespace", func(p *corev1.Pod) { p.Namespace = "" },
			[]string{"metadata.namespace: Required value"}},
		{"bad label key", func(p *corev1.Pod) { p.Labels = map[string]string{"-bad": "x"} },
			[]string{`metadata.labels: Invalid value: "-bad": name part must consist of`}},
		{"annotations over 256 KiB", func(p *corev1.Pod) { p.Annotations = map[string]string{"big": strings.Repeat("x", 256*1024)} },
			[]string{"metadata.annotations: Too long"}},
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil },
			[]string{"spec.containers: Required value"}},
		{"no image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" },
			[]string{"spec.containers[0].image: Required value"}},
		{"image with spaces", func(p *corev1.Pod) { p.Spec.Containers[0].Image = " nginx" },
			[]string{`spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace`}},
		{"container name not a label", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "Web_1" },
			[]string{`spec.containers[0].name: Invalid value: "Web_1": a lowercase RFC 1123 label must consist of`}},
		{"duplicate container name", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, *p.Spec.Containers[0].DeepCopy())
			p.Spec.Containers[1].Ports = nil
		}, []string{`spec.containers[1].name: Duplicate value: "nginx"`}},
		{"init container shares a name", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{*p.Spec.Containers[0].DeepCopy()}
		}, []string{`spec.initContainers[0].name: Duplicate value: "nginx"`}},
		{"port out of range", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 70000 },
			[]string{"spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
		{"port missing", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 0 },
			[]string{"spec.containers[0].ports[0].containerPort: Required value"}},
		{"unknown protocol", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = "HTTP" },
			[]string{`spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"`}},
		{"duplicate port names", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{
				{Name: "http", ContainerPort: 80, Protocol: "TCP"}, {Name: "http", ContainerPort: 81, Protocol: "TCP"}}
		}, []string{`spec.containers[0].ports[1].name: Duplicate value: "http"`}},
		{"host port used twice", func(p *corev1.Pod) {
			c := *p.Spec.Containers[0].DeepCopy()
			c.Name = "sidecar"
			p.Spec.Containers = append(p.Spec.Containers, c)
			p.Spec.Containers[0].Ports[0].HostPort = 8080
			p.Spec.Containers[1].Ports[0].HostPort = 8080
		}, []string{`spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"`}},
		{"unknown restartPolicy", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" },
			[]string{`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`}},
		{"unknown dnsPolicy", func(p *corev1.Pod) { p.Spec.DNSPolicy = "Google" },
			[]string{`spec.dnsPolicy: Unsupported value: "Google"`}},
		{"dnsPolicy None needs dnsConfig", func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone },
			[]string{"spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"}},
		{"undefaulted grace period", func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = nil },
			[]string{"spec.terminationGracePeriodSeconds: Required value"}},
		{"activeDeadlineSeconds 0", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](0) },
			[]string{"spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"}},
		{"bad service account name", func(p *corev1.Pod) { p.Spec.ServiceAccountName = "Bad_SA" },
			[]string{`spec.serviceAccountName: Invalid value: "Bad_SA"`}},
		{"requests above limits", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
				Limits: corev1.ResourceList{"cpu": resource.MustParse("1")}, Requests: corev1.ResourceList{"cpu": resource.MustParse("2")}}
		}, []string{`spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1`}},
		{"unknown resource", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"cpus": resource.MustParse("1")}
		}, []string{`spec.containers[0].resources.limits[cpus]: Invalid value: "cpus": must be a standard resource for containers`}},
		{"negative request", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"memory": resource.MustParse("-1Mi")}
		}, []string{`spec.containers[0].resources.requests[memory]: Invalid value: "-1Mi": must be greater than or equal to 0`}},
		{"GPU request without limit", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}
		}, []string{"spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources"}},
		{"env name with =", func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A=B"}} },
			[]string{`spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='`}},
		{"env without name", func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Value: "x"}} },
			[]string{"spec.containers[0].env[0].name: Required value"}},
		{"empty valueFrom", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{}}}
		}, []string{"spec.containers[0].env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"}},
		{"unknown downward field", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.containers"}}}}
		}, []string{`spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.containers"`}},
		{"downward label is fine", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels['app']"}}}}
		}, nil},
		{"secretKeyRef without key", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}}}}}
		}, []string{"spec.containers[0].env[0].valueFrom.secretKeyRef.key: Required value"}},
		{"mount of a missing volume", func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}, []string{`spec.containers[0].volumeMounts[0].name: Not found: "data"`}},
		{"two mounts at one path", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "a", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "a", MountPath: "/data"}, {Name: "a", MountPath: "/data"}}
		}, []string{`spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/data": must be unique`}},
		{"duplicate volume", func(p *corev1.Pod) {
			v := corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
			p.Spec.Volumes = []corev1.Volume{v, v}
		}, []string{`spec.volumes[1].name: Duplicate value: "data"`}},
		{"volume with two sources", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				EmptyDir: &corev1.EmptyDirVolumeSource{}, ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}}}}}
		}, []string{"spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type"}},
		{"secret volume without name", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}}}
		}, []string{"spec.volumes[0].secret.secretName: Required value"}},
		{"probe with two handlers", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				Exec: &corev1.ExecAction{Command: []string{"true"}}, TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}},
				SuccessThreshold: 1}
		}, []string{"spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"}},
		{"probe with no handler", func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{}
		}, []string{"spec.containers[0].readinessProbe: Required value: must specify a handler type"}},
		{"liveness needs one success", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("http"), Scheme: "HTTP"}}, SuccessThreshold: 2}
		}, []string{"spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"}},
		{"exec probe without command", func(p *corev1.Pod) {
			p.Spec.Containers[0].StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{}}, SuccessThreshold: 1}
		}, []string{"spec.containers[0].startupProbe.exec.command: Required value"}},
		{"init container with probe", func(p *corev1.Pod) {
			c := *p.Spec.Containers[0].DeepCopy()
			c.Name, c.Ports = "init", nil
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}, SuccessThreshold: 1}
			p.Spec.InitContainers = []corev1.Container{c}
		}, []string{"spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"}},
		{"toleration without key must be Exists", func(p *corev1.Pod) {
			p.Spec.Tolerations = append([]corev1.Toleration{{Operator: corev1.TolerationOpEqual, Value: "x"}}, p.Spec.Tolerations...)
		}, []string{"spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := nginxPod()
			tt.mutate(p)
			check(t, Create(p), tt.want...)
		})
	}
}

func TestPodUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   []string
	}{
		{"new image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.25" }, nil},
		{"new labels", func(p *corev1.Pod) { p.Labels["tier"] = "web" }, nil},
		{"extra toleration", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "gpu", Operator: corev1.TolerationOpExists})
		}, nil},
		{"shorter tolerationSeconds", func(p *corev1.Pod) { p.Spec.Tolerations[0].TolerationSeconds = ptr.To[int64](10) }, nil},
		{"toleration removed", func(p *corev1.Pod) { p.Spec.Tolerations = p.Spec.Tolerations[1:] },
			[]string{"spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"}},
		{"deadline set", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](60) }, nil},
		{"new command", func(p *corev1.Pod) { p.Spec.Containers[0].Command = []string{"sh"} },
			[]string{"spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`"}},
		{"bound to a node (pods/binding)", func(p *corev1.Pod) { p.Spec.NodeName = "worker-2" }, nil},
		{"added container", func(p *corev1.Pod) {
			c := *p.Spec.Containers[0].DeepCopy()
			c.Name, c.Ports = "sidecar", nil
			p.Spec.Containers = append(p.Spec.Containers, c)
		}, []string{"spec.containers: Forbidden: pod updates may not add or remove containers"}},
		{"renamed", func(p *corev1.Pod) { p.Name = "other" },
			[]string{`metadata.name: Invalid value: "other": field is immutable`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := nginxPod()
			old.ResourceVersion = "7"
			p := old.DeepCopy()
			tt.mutate(p)
			check(t, Update(p, old), tt.want...)
		})
	}
	t.Run("moved to another node", func(t *testing.T) {
		old := nginxPod()
		old.ResourceVersion = "7"
		old.Spec.NodeName = "worker-1"
		p := old.DeepCopy()
		p.Spec.NodeName = "worker-2"
		check(t, Update(p, old), "spec: Forbidden: pod updates may not change fields other than")
	})
	t.Run("deadline raised", func(t *testing.T) {
		old := nginxPod()
		old.ResourceVersion = "7"
		old.Spec.ActiveDeadlineSeconds = ptr.To[int64](60)
		p := old.DeepCopy()
		p.Spec.ActiveDeadlineSeconds = ptr.To[int64](120)
		check(t, Update(p, old), "spec.activeDeadlineSeconds: Invalid value: 120: must be less than or equal to previous value")
	})
}
