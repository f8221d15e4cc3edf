package validation

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestDeploymentCreate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(d *appsv1.Deployment)
		want   []string
	}{
		{"docs example is valid", func(d *appsv1.Deployment) {}, nil},
		{"labels do not match", func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "api"} },
			[]string{"spec.template.metadata.labels: Invalid value: {\"app\":\"api\"}: `selector` does not match template `labels`"}},
		{"no selector", func(d *appsv1.Deployment) { d.Spec.Selector = nil },
			[]string{"spec.selector: Required value", "spec.template.metadata.labels: Invalid value"}},
		{"empty selector", func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} },
			[]string{"spec.selector: Invalid value: {}: empty selector is invalid for deployment"}},
		{"negative replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](-1) },
			[]string{"spec.replicas: Invalid value: -1: must be greater than or equal to 0"}},
		{"template restartPolicy Never", func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			[]string{`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`}},
		{"template container without image", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" },
			[]string{"spec.template.spec.containers[0].image: Required value"}},
		{"bad template label", func(d *appsv1.Deployment) { d.Spec.Template.Labels["bad key"] = "x" },
			[]string{`spec.template.labels: Invalid value: "bad key"`}},
		{"surge and unavailable both 0", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(0)), MaxUnavailable: ptr.To(intstr.FromString("0%"))}
		}, []string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0%\": may not be 0 when `maxSurge` is 0"}},
		{"maxUnavailable over 100%", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromString("150%"))
		}, []string{`spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%`}},
		{"Recreate with rollingUpdate", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType },
			[]string{"spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"}},
		{"unknown strategy", func(d *appsv1.Deployment) { d.Spec.Strategy = appsv1.DeploymentStrategy{Type: "BlueGreen"} },
			[]string{`spec.strategy.type: Unsupported value: "BlueGreen"`}},
		{"negative minReadySeconds", func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = -5 },
			[]string{"spec.minReadySeconds: Invalid value: -5: must be greater than or equal to 0"}},
		{"deadline not above minReadySeconds", func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = 600 },
			[]string{"spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := nginxDeployment()
			tt.mutate(d)
			check(t, Create(d), tt.want...)
		})
	}
	t.Run("selector is immutable", func(t *testing.T) {
		old := nginxDeployment()
		old.ResourceVersion = "3"
		d := old.DeepCopy()
		d.Spec.Selector.MatchLabels["tier"] = "web"
		d.Spec.Template.Labels["tier"] = "web"
		check(t, Update(d, old), "spec.selector: Invalid value: ")
	})
	t.Run("scaling and new image are fine", func(t *testing.T) {
		old := nginxDeployment()
		old.ResourceVersion = "3"
		d := old.DeepCopy()
		d.Spec.Replicas = ptr.To[int32](10)
		d.Spec.Template.Spec.Containers[0].Image = "nginx:1.25"
		check(t, Update(d, old))
	})
}

func TestOtherWorkloads(t *testing.T) {
	t.Run("ReplicaSet", func(t *testing.T) {
		d := nginxDeployment()
		rs := defaulted(&appsv1.ReplicaSet{ObjectMeta: d.ObjectMeta, Spec: appsv1.ReplicaSetSpec{Selector: d.Spec.Selector, Template: d.Spec.Template}})
		check(t, Create(rs))
		rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}
		check(t, Create(rs), "spec.template.metadata.labels: Invalid value")
	})
	t.Run("ReplicationController", func(t *testing.T) {
		tmpl := nginxTemplate()
		rc := defaulted(&corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default"},
			Spec: corev1.ReplicationControllerSpec{Template: &tmpl}})
		check(t, Create(rc))
		rc.Spec.Template = nil
		check(t, Create(rc), "spec.template: Required value")
	})
	dsTests := []struct {
		name   string
		mutate func(ds *appsv1.DaemonSet)
		want   []string
	}{
		{"docs example is valid", func(ds *appsv1.DaemonSet) {}, nil},
		{"empty selector", func(ds *appsv1.DaemonSet) { ds.Spec.Selector = &metav1.LabelSelector{} },
			[]string{"spec.selector: Invalid value: {}: empty selector is invalid for daemonset"}},
		{"surge and unavailable", func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(1))
		},
			[]string{"spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero"}},
		{"neither surge nor unavailable", func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(0))
		},
			[]string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"}},
		{"hostPath without path", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Volumes[0].HostPath.Path = "" },
			[]string{"spec.template.spec.volumes[0].hostPath.path: Required value"}},
	}
	for _, tt := range dsTests {
		t.Run("DaemonSet "+tt.name, func(t *testing.T) {
			ds := fluentdDaemonSet()
			tt.mutate(ds)
			check(t, Create(ds), tt.want...)
		})
	}
}

func TestStatefulSet(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(ss *appsv1.StatefulSet)
		want   []string
	}{
		{"docs example is valid (mounts its claim template)", func(ss *appsv1.StatefulSet) {}, nil},
		{"name must be a DNS label", func(ss *appsv1.StatefulSet) { ss.Name = "web.v1" },
			[]string{`metadata.name: Invalid value: "web.v1": must not contain dots`}},
		{"unknown podManagementPolicy", func(ss *appsv1.StatefulSet) { ss.Spec.PodManagementPolicy = "Random" },
			[]string{`spec.podManagementPolicy: Invalid value: "Random": must be 'OrderedReady' or 'Parallel'`}},
		{"negative partition", func(ss *appsv1.StatefulSet) { ss.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](-1) },
			[]string{"spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0"}},
		{"mount of neither volume nor claim", func(ss *appsv1.StatefulSet) { ss.Spec.Template.Spec.Containers[0].VolumeMounts[0].Name = "logs" },
			[]string{`spec.template.spec.containers[0].volumeMounts[0].name: Not found: "logs"`}},
		{"restartPolicy OnFailure", func(ss *appsv1.StatefulSet) { ss.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure },
			[]string{`spec.template.spec.restartPolicy: Unsupported value: "OnFailure"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss := webStatefulSet()
			tt.mutate(ss)
			check(t, Create(ss), tt.want...)
		})
	}
	t.Run("update of replicas and template is fine", func(t *testing.T) {
		old := webStatefulSet()
		old.ResourceVersion = "5"
		ss := old.DeepCopy()
		ss.Spec.Replicas = ptr.To[int32](5)
		ss.Spec.Template.Spec.Containers[0].Image = "nginx:1.25"
		check(t, Update(ss, old))
	})
	t.Run("update of serviceName is forbidden", func(t *testing.T) {
		old := webStatefulSet()
		old.ResourceVersion = "5"
		ss := old.DeepCopy()
		ss.Spec.ServiceName = "other"
		check(t, Update(ss, old), "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template'")
	})
}
