package defaults

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Apply fills in the defaults a real API server sets for this object (typed
// k8s.io/api objects; anything else is left untouched). It is idempotent.
//
// It switches on the Go type rather than on apiVersion/kind, because the REST
// layer has already decoded the body into the right type and typed objects
// often arrive with an empty TypeMeta.
func Apply(obj runtime.Object) {
	switch o := obj.(type) {
	// core/v1 workloads and their templates
	case *corev1.Pod:
		if o != nil {
			pod(o)
		}
	case *corev1.PodTemplate:
		if o != nil {
			podTemplate(&o.Template)
		}
	case *corev1.ReplicationController:
		if o != nil {
			replicationController(o)
		}

	// apps/v1
	case *appsv1.Deployment:
		if o != nil {
			deployment(o)
		}
	case *appsv1.ReplicaSet:
		if o != nil {
			replicaSet(o)
		}
	case *appsv1.DaemonSet:
		if o != nil {
			daemonSet(o)
		}
	case *appsv1.StatefulSet:
		if o != nil {
			statefulSet(o)
		}

	// batch/v1
	case *batchv1.Job:
		if o != nil {
			job(o)
		}
	case *batchv1.CronJob:
		if o != nil {
			cronJob(o)
		}

	// networking-ish core objects
	case *corev1.Service:
		if o != nil {
			service(o)
		}
	case *corev1.Endpoints:
		if o != nil {
			endpoints(o)
		}
	case *discoveryv1.EndpointSlice:
		if o != nil {
			endpointSlice(o)
		}

	// cluster and configuration objects
	case *corev1.Namespace:
		if o != nil {
			namespace(o)
		}
	case *corev1.Node:
		if o != nil {
			node(o)
		}
	case *corev1.Secret:
		if o != nil {
			secret(o)
		}
	case *corev1.ConfigMap:
		// Upstream's SetDefaults_ConfigMap turns a nil data into {}; both
		// serialize the same (data is omitempty), so there is nothing to do.

	// everything else that has defaults
	case *autoscalingv2.HorizontalPodAutoscaler:
		if o != nil {
			horizontalPodAutoscaler(o)
		}
	case *rbacv1.RoleBinding:
		if o != nil {
			roleBinding(&o.RoleRef, o.Subjects)
		}
	case *rbacv1.ClusterRoleBinding:
		if o != nil {
			roleBinding(&o.RoleRef, o.Subjects)
		}
	case *apiextensionsv1.CustomResourceDefinition:
		if o != nil {
			customResourceDefinition(o)
		}
	}
	// PodDisruptionBudget, Lease, Event, Role, ClusterRole, ServiceAccount:
	// a real API server sets nothing on them.
}
