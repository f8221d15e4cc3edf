package defaults

import (
	"fmt"

	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestService(t *testing.T) {
	tests := []struct {
		name  string
		in    corev1.ServiceSpec
		check func(t *testing.T, s corev1.ServiceSpec)
	}{
		{"ClusterIP", corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}, func(t *testing.T, s corev1.ServiceSpec) {
			wantEqual(t, s.Type, corev1.ServiceTypeClusterIP)
			wantEqual(t, s.SessionAffinity, corev1.ServiceAffinityNone)
			wantEqual(t, s.Ports, []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)}})
			wantEqual(t, s.InternalTrafficPolicy, ptr.To(corev1.ServiceInternalTrafficPolicyCluster))
			wantEqual(t, s.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicy(""))
		}},
		{"named targetPort kept", corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}}, func(t *testing.T, s corev1.ServiceSpec) {
			wantEqual(t, s.Ports[0].TargetPort, intstr.FromString("http"))
		}},
		{"NodePort is externally accessible", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort}, func(t *testing.T, s corev1.ServiceSpec) {
			wantEqual(t, s.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicyCluster)
		}},
		{"LoadBalancer allocates node ports", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}, func(t *testing.T, s corev1.ServiceSpec) {
			wantEqual(t, s.AllocateLoadBalancerNodePorts, ptr.To(true))
		}},
		{"ExternalName has no traffic policies", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}, func(t *testing.T, s corev1.ServiceSpec) {
			wantEqual(t, s.InternalTrafficPolicy, (*corev1.ServiceInternalTrafficPolicy)(nil))
		}},
		{"ClientIP affinity timeout", corev1.ServiceSpec{SessionAffinity: corev1.ServiceAffinityClientIP}, func(t *testing.T, s corev1.ServiceSpec) {
			wantEqual(t, s.SessionAffinityConfig, &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](10800)}})
		}},
		{"headless clusterIP mirrored", corev1.ServiceSpec{ClusterIP: "None"}, func(t *testing.T, s corev1.ServiceSpec) {
			wantEqual(t, s.ClusterIPs, []string{"None"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &corev1.Service{Spec: tt.in}
			Apply(s)
			tt.check(t, s.Spec)
		})
	}
}

func TestClusterAndConfigObjects(t *testing.T) {
	t.Run("Namespace", func(t *testing.T) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "dev"}}
		Apply(ns)
		wantEqual(t, ns.Labels, map[string]string{"kubernetes.io/metadata.name": "dev"})
		wantEqual(t, ns.Spec.Finalizers, []corev1.FinalizerName{"kubernetes"})
		wantEqual(t, ns.Status.Phase, corev1.NamespaceActive)
	})
	t.Run("finalized Namespace stays finalized", func(t *testing.T) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "dev"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
		Apply(ns)
		wantEqual(t, len(ns.Spec.Finalizers), 0)
	})
	t.Run("Secret stringData merged", func(t *testing.T) {
		s := &corev1.Secret{Data: map[string][]byte{"a": []byte("1"), "b": []byte("2")}, StringData: map[string]string{"b": "two"}}
		Apply(s)
		wantEqual(t, s.Type, corev1.SecretTypeOpaque)
		wantEqual(t, s.Data, map[string][]byte{"a": []byte("1"), "b": []byte("two")})
		wantEqual(t, s.StringData, map[string]string(nil))
	})
	t.Run("Node", func(t *testing.T) {
		n := &corev1.Node{
			Spec:   corev1.NodeSpec{PodCIDR: "10.200.1.0/24"},
			Status: corev1.NodeStatus{Capacity: corev1.ResourceList{"cpu": resource.MustParse("2")}},
		}
		Apply(n)
		wantEqual(t, n.Spec.PodCIDRs, []string{"10.200.1.0/24"})
		wantEqual(t, n.Status.Allocatable, corev1.ResourceList{"cpu": resource.MustParse("2")})
	})
	t.Run("Endpoints and EndpointSlice ports", func(t *testing.T) {
		e := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}}
		Apply(e)
		wantEqual(t, e.Subsets[0].Ports[0].Protocol, corev1.ProtocolTCP)
		s := &discoveryv1.EndpointSlice{Ports: []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}}}
		Apply(s)
		wantEqual(t, s.Ports[0], discoveryv1.EndpointPort{Name: ptr.To(""), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](80)})
	})
	t.Run("RBAC subjects", func(t *testing.T) {
		rb := &rbacv1.RoleBinding{
			RoleRef:  rbacv1.RoleRef{Kind: "Role", Name: "reader"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "jane"}, {Kind: "ServiceAccount", Name: "default", Namespace: "dev"}, {Kind: "Group", Name: "ops"}},
		}
		Apply(rb)
		wantEqual(t, rb.RoleRef.APIGroup, rbacv1.GroupName)
		wantEqual(t, []string{rb.Subjects[0].APIGroup, rb.Subjects[1].APIGroup, rb.Subjects[2].APIGroup}, []string{rbacv1.GroupName, "", rbacv1.GroupName})
	})
	t.Run("HPA default metric", func(t *testing.T) {
		h := &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 5}}
		Apply(h)
		wantEqual(t, h.Spec.MinReplicas, ptr.To[int32](1))
		wantEqual(t, h.Spec.Metrics[0].Resource.Target.AverageUtilization, ptr.To[int32](80))
	})
	t.Run("HPA behavior completed", func(t *testing.T) {
		h := &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](60)}},
		}}
		Apply(h)
		wantEqual(t, h.Spec.Behavior.ScaleDown.StabilizationWindowSeconds, ptr.To[int32](60))
		wantEqual(t, len(h.Spec.Behavior.ScaleUp.Policies), 2)
	})
	t.Run("CRD names", func(t *testing.T) {
		crd := &apiextensionsv1.CustomResourceDefinition{Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Names:    apiextensionsv1.CustomResourceDefinitionNames{Kind: "CronTab", Plural: "crontabs"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1beta1"}, {Name: "v1", Storage: true}},
		}}
		Apply(crd)
		wantEqual(t, crd.Spec.Names.Singular, "crontab")
		wantEqual(t, crd.Spec.Names.ListKind, "CronTabList")
		wantEqual(t, crd.Spec.Conversion.Strategy, apiextensionsv1.NoneConverter)
		wantEqual(t, crd.Status.StoredVersions, []string{"v1"})
	})
}

// TestIdempotent: the registry defaults on every write, so a second Apply
// must not change anything.
func TestIdempotent(t *testing.T) {
	objects := map[string]func() runtime.Object{
		"Pod": func() runtime.Object {
			return &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "c",
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": resource.MustParse("1")}}}}}}
		},
		"Deployment": func() runtime.Object { return &appsv1.Deployment{} },
		"StatefulSet": func() runtime.Object {
			return &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{}}}}
		},
		"Job": func() runtime.Object {
			return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", UID: "u"}}
		},
		"Service": func() runtime.Object {
			return &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort}}
		},
		"Namespace": func() runtime.Object { return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n"}} },
		"Secret":    func() runtime.Object { return &corev1.Secret{StringData: map[string]string{"k": "v"}} },
		"HPA": func() runtime.Object {
			return &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{}}}
		},
	}
	for name, build := range objects {
		t.Run(name, func(t *testing.T) {
			once := build()
			Apply(once)
			twice := once.DeepCopyObject()
			Apply(twice)
			wantEqual(t, twice, once)
		})
	}
}

// TestNilSafe: Apply never panics, whatever it is given.
func TestNilSafe(t *testing.T) {
	objects := []runtime.Object{
		nil,
		(*corev1.Pod)(nil),
		(*appsv1.Deployment)(nil),
		(*corev1.ReplicationController)(nil),
		&corev1.ReplicationController{},
		&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Env: []corev1.EnvVar{{ValueFrom: &corev1.EnvVarSource{}}}, Lifecycle: &corev1.Lifecycle{}}}}},
		&batchv1.Job{ObjectMeta: metav1.ObjectMeta{UID: "u"}, Spec: batchv1.JobSpec{Selector: &metav1.LabelSelector{}, PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{}}}}}}},
		&apiextensionsv1.CustomResourceDefinition{Spec: apiextensionsv1.CustomResourceDefinitionSpec{Conversion: &apiextensionsv1.CustomResourceConversion{Webhook: &apiextensionsv1.WebhookConversion{ClientConfig: &apiextensionsv1.WebhookClientConfig{Service: &apiextensionsv1.ServiceReference{}}}}}},
		&unstructured.Unstructured{Object: map[string]any{"kind": "CronTab"}},
	}
	for i, obj := range objects {
		t.Run(fmt.Sprintf("%d %T", i, obj), func(t *testing.T) {
			Apply(obj)
		})
	}
}
