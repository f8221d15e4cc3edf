package validation

import (
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestNameRule(t *testing.T) {
	tests := []struct {
		gvk   schema.GroupVersionKind
		name  string
		valid bool
	}{
		{corev1.SchemeGroupVersion.WithKind("Pod"), "web-0.v1", true},
		{corev1.SchemeGroupVersion.WithKind("Namespace"), "team.a", false},
		{corev1.SchemeGroupVersion.WithKind("Service"), "web", true},
		{corev1.SchemeGroupVersion.WithKind("Service"), "1web", false},
		{corev1.SchemeGroupVersion.WithKind("Node"), "worker-0.kubelab.local", true},
		{appsv1.SchemeGroupVersion.WithKind("StatefulSet"), "web.v1", false},
		{batchv1.SchemeGroupVersion.WithKind("CronJob"), "a-name-that-is-exactly-fifty-three-characters-long-abc", false},
		{rbacv1.SchemeGroupVersion.WithKind("ClusterRole"), "system:node", true},
		{rbacv1.SchemeGroupVersion.WithKind("RoleBinding"), "a/b", false},
		{schema.GroupVersionKind{Group: "stable.example.com", Version: "v1", Kind: "CronTab"}, "my-new-cron-object", true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s", tt.gvk.Kind, tt.name), func(t *testing.T) {
			msgs := NameRule(tt.gvk)(tt.name, false)
			if (len(msgs) == 0) != tt.valid {
				t.Errorf("NameRule(%s)(%q) = %v, want valid=%v", tt.gvk.Kind, tt.name, msgs, tt.valid)
			}
		})
	}
}

func TestGenericMetadata(t *testing.T) {
	t.Run("ServiceAccount gets the metadata rules", func(t *testing.T) {
		check(t, Create(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "build-robot", Namespace: "default"}}))
		check(t, Create(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "build-robot"}}), "metadata.namespace: Required value")
	})
	t.Run("PersistentVolume is cluster-scoped", func(t *testing.T) {
		check(t, Create(&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv0003", Namespace: "default"}}),
			"metadata.namespace: Forbidden: not allowed on this type")
	})
	cr := func(ns string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("stable.example.com/v1")
		u.SetKind("CronTab")
		u.SetName("my-new-cron-object")
		u.SetNamespace(ns)
		return u
	}
	t.Run("custom resource, namespaced", func(t *testing.T) { check(t, Create(cr("default"))) })
	t.Run("custom resource, cluster-scoped", func(t *testing.T) { check(t, Create(cr(""))) })
	t.Run("custom resource with a bad name", func(t *testing.T) {
		u := cr("default")
		u.SetName("My_Cron")
		check(t, Create(u), `metadata.name: Invalid value: "My_Cron"`)
	})
}

func TestUpdateMetadata(t *testing.T) {
	old := nginxPod()
	old.ResourceVersion = "10"
	old.Generation = 2
	tests := []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   []string
	}{
		{"no resourceVersion", func(p *corev1.Pod) { p.ResourceVersion = "" },
			[]string{`metadata.resourceVersion: Invalid value: "": must be specified for an update`}},
		{"generation going back", func(p *corev1.Pod) { p.Generation = 1 },
			[]string{"metadata.generation: Invalid value: 1: must not be decremented"}},
		{"other uid", func(p *corev1.Pod) { p.UID = "b2" },
			[]string{`metadata.uid: Invalid value: "b2": field is immutable`}},
		{"other namespace", func(p *corev1.Pod) { p.Namespace = "prod" },
			[]string{`metadata.namespace: Invalid value: "prod": field is immutable`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := old.DeepCopy()
			tt.mutate(p)
			check(t, Update(p, old), tt.want...)
		})
	}
	t.Run("no new finalizers while deleting", func(t *testing.T) {
		deleting := old.DeepCopy()
		now := metav1.Now()
		deleting.DeletionTimestamp = &now
		p := deleting.DeepCopy()
		p.Finalizers = []string{"example.com/keep"}
		check(t, Update(p, deleting), "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted")
	})
	t.Run("different types", func(t *testing.T) {
		check(t, Update(nginxPod(), nginxDeployment()), "[]: Internal error: cannot update a *v1.Deployment from a *v1.Pod")
	})
}

// TestNilSafe: no input makes validation panic; everything nil that can be
// nil in a user's object is tried somewhere.
func TestNilSafe(t *testing.T) {
	objects := []runtime.Object{
		nil,
		(*corev1.Pod)(nil),
		&corev1.Pod{},
		&corev1.Pod{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{}, GRPC: &corev1.GRPCAction{}}},
				Lifecycle:     &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{}}},
				Env:           []corev1.EnvVar{{ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{}, ConfigMapKeyRef: &corev1.ConfigMapKeySelector{}}}},
				EnvFrom:       []corev1.EnvFromSource{{}},
				RestartPolicy: new(corev1.ContainerRestartPolicy),
			}},
			InitContainers:      []corev1.Container{{RestartPolicy: new(corev1.ContainerRestartPolicy)}},
			EphemeralContainers: []corev1.EphemeralContainer{{}},
			Volumes:             []corev1.Volume{{VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{}}}}}},
			DNSPolicy:           corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{},
			SecurityContext: &corev1.PodSecurityContext{},
			Tolerations:     []corev1.Toleration{{TolerationSeconds: new(int64)}},
		}},
		&corev1.PodTemplate{},
		&corev1.ReplicationController{},
		&appsv1.Deployment{Spec: appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{}}}},
		&appsv1.ReplicaSet{},
		&appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType, RollingUpdate: &appsv1.RollingUpdateDaemonSet{}}}},
		&appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{}}}},
		&batchv1.Job{Spec: batchv1.JobSpec{Selector: &metav1.LabelSelector{}}},
		&batchv1.CronJob{},
		&corev1.Service{},
		&corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ClusterIPs: []string{"None", "x"}}},
		&corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{}, {}}}}},
		&corev1.ConfigMap{}, &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson},
		&corev1.Namespace{}, &corev1.Node{}, &corev1.Event{},
		&rbacv1.Role{Rules: []rbacv1.PolicyRule{{}}}, &rbacv1.ClusterRole{AggregationRule: &rbacv1.AggregationRule{}},
		&rbacv1.RoleBinding{Subjects: []rbacv1.Subject{{}}}, &rbacv1.ClusterRoleBinding{},
		&apiextensionsv1.CustomResourceDefinition{},
		&apiextensionsv1.CustomResourceDefinition{Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
				Type: "array", Items: &apiextensionsv1.JSONSchemaPropsOrArray{}, AdditionalProperties: &apiextensionsv1.JSONSchemaPropsOrBool{}}}}},
			Conversion: &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.WebhookConverter}}},
		&unstructured.Unstructured{},
	}
	for i, obj := range objects {
		t.Run(fmt.Sprintf("%d %T", i, obj), func(t *testing.T) {
			errs := Create(obj)
			if obj != nil && !isNil(obj) {
				_ = Update(obj, obj.DeepCopyObject())
			}
			_ = errs
		})
	}
}
