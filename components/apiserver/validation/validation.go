package validation

import (
	"fmt"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
)

// Create validates a new object (already defaulted, metadata already filled
// in by the caller: name, uid, creationTimestamp). It includes ObjectMeta
// validation with the right name rule for the kind.
//
// Kinds without rules of their own (ServiceAccount, PersistentVolumeClaim,
// custom resources, ...) get the metadata rules only.
func Create(obj runtime.Object) field.ErrorList {
	if isNil(obj) {
		return field.ErrorList{field.InternalError(field.NewPath(""), fmt.Errorf("no object to validate"))}
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		return pod(o)
	case *corev1.PodTemplate:
		return append(objectMeta(&o.ObjectMeta, schema.GroupKind{Kind: "PodTemplate"}),
			podTemplateSpec(&o.Template, field.NewPath("template"), nil)...)
	case *corev1.ReplicationController:
		return replicationController(o)
	case *appsv1.Deployment:
		return deployment(o)
	case *appsv1.ReplicaSet:
		return replicaSet(o)
	case *appsv1.DaemonSet:
		return daemonSet(o)
	case *appsv1.StatefulSet:
		return statefulSet(o)
	case *batchv1.Job:
		return job(o)
	case *batchv1.CronJob:
		return cronJob(o)
	case *corev1.Service:
		return service(o)
	case *corev1.Endpoints:
		return endpoints(o)
	case *discoveryv1.EndpointSlice:
		return endpointSlice(o)
	case *corev1.ConfigMap:
		return configMap(o)
	case *corev1.Secret:
		return secret(o)
	case *corev1.Namespace:
		return namespace(o)
	case *corev1.Node:
		return node(o)
	case *corev1.Event:
		return event(o)
	case *eventsv1.Event:
		return eventsEvent(o)
	case *coordinationv1.Lease:
		return lease(o)
	case *rbacv1.Role:
		return role(o)
	case *rbacv1.ClusterRole:
		return clusterRole(o)
	case *rbacv1.RoleBinding:
		return roleBinding(o)
	case *rbacv1.ClusterRoleBinding:
		return clusterRoleBinding(o)
	case *autoscalingv2.HorizontalPodAutoscaler:
		return horizontalPodAutoscaler(o)
	case *policyv1.PodDisruptionBudget:
		return podDisruptionBudget(o)
	case *apiextensionsv1.CustomResourceDefinition:
		return customResourceDefinition(o)
	}
	return genericMeta(obj)
}

// Update validates a change: Create's rules on the new object plus the
// fields that may not change (a pod's spec apart from images, tolerations and
// activeDeadlineSeconds; workload selectors; a Job's template; a Service's
// cluster IPs; immutable Secrets and ConfigMaps; binding roleRefs; ...).
func Update(newObj, oldObj runtime.Object) field.ErrorList {
	if isNil(newObj) || isNil(oldObj) {
		return field.ErrorList{field.InternalError(field.NewPath(""), fmt.Errorf("update needs the new and the old object"))}
	}
	if reflect.TypeOf(newObj) != reflect.TypeOf(oldObj) {
		return field.ErrorList{field.InternalError(field.NewPath(""),
			fmt.Errorf("cannot update a %T from a %T", oldObj, newObj))}
	}
	// A Service that changes type is judged as it will be stored.
	if svc, ok := newObj.(*corev1.Service); ok {
		newObj = afterTypeChange(svc, oldObj.(*corev1.Service))
	}
	errs := Create(newObj)
	newMeta, err1 := meta.Accessor(newObj)
	oldMeta, err2 := meta.Accessor(oldObj)
	if err1 == nil && err2 == nil {
		errs = append(errs, metaUpdate(newMeta, oldMeta)...)
	}
	switch n := newObj.(type) {
	case *corev1.Pod:
		errs = append(errs, podUpdate(n, oldObj.(*corev1.Pod))...)
	case *corev1.ReplicationController:
		// spec.selector of the pre-apps controller stays mutable, as upstream.
	case *appsv1.Deployment:
		errs = append(errs, selectorUpdate(n.Spec.Selector, oldObj.(*appsv1.Deployment).Spec.Selector)...)
	case *appsv1.ReplicaSet:
		errs = append(errs, selectorUpdate(n.Spec.Selector, oldObj.(*appsv1.ReplicaSet).Spec.Selector)...)
	case *appsv1.DaemonSet:
		errs = append(errs, selectorUpdate(n.Spec.Selector, oldObj.(*appsv1.DaemonSet).Spec.Selector)...)
	case *appsv1.StatefulSet:
		errs = append(errs, statefulSetUpdate(n, oldObj.(*appsv1.StatefulSet))...)
	case *batchv1.Job:
		errs = append(errs, jobUpdate(n, oldObj.(*batchv1.Job))...)
	case *corev1.Service:
		errs = append(errs, serviceUpdate(n, oldObj.(*corev1.Service))...)
	case *discoveryv1.EndpointSlice:
		errs = append(errs, apimachineryvalidation.ValidateImmutableField(n.AddressType,
			oldObj.(*discoveryv1.EndpointSlice).AddressType, field.NewPath("addressType"))...)
	case *corev1.ConfigMap:
		errs = append(errs, configMapUpdate(n, oldObj.(*corev1.ConfigMap))...)
	case *corev1.Secret:
		errs = append(errs, secretUpdate(n, oldObj.(*corev1.Secret))...)
	case *corev1.Node:
		errs = append(errs, nodeUpdate(n, oldObj.(*corev1.Node))...)
	case *rbacv1.RoleBinding:
		errs = append(errs, roleRefUpdate(n.RoleRef, oldObj.(*rbacv1.RoleBinding).RoleRef)...)
	case *rbacv1.ClusterRoleBinding:
		errs = append(errs, roleRefUpdate(n.RoleRef, oldObj.(*rbacv1.ClusterRoleBinding).RoleRef)...)
	case *apiextensionsv1.CustomResourceDefinition:
		errs = append(errs, customResourceDefinitionUpdate(n, oldObj.(*apiextensionsv1.CustomResourceDefinition))...)
	}
	return errs
}

// genericMeta validates the metadata of any other object. A built-in kind's
// scope is known; for anything else (custom resources) the registry has
// already decided whether the object lives in a namespace, so the namespace
// field is taken at its word.
func genericMeta(obj runtime.Object) field.ErrorList {
	m, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(metadataPath, fmt.Errorf("reading metadata of %T: %w", obj, err))}
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	namespaced := m.GetNamespace() != ""
	if kinds, _, err := scheme.Scheme.ObjectKinds(obj); err == nil && len(kinds) > 0 && scheme.Scheme.Recognizes(kinds[0]) {
		gvk = kinds[0]
		namespaced = !clusterScoped[gvk.GroupKind()]
	}
	return apimachineryvalidation.ValidateObjectMetaAccessor(m, namespaced, NameRule(gvk), metadataPath)
}

// isNil reports a missing object, including a typed nil pointer such as
// (*corev1.Pod)(nil), which is not == nil once inside an interface.
func isNil(obj runtime.Object) bool {
	if obj == nil {
		return true
	}
	v := reflect.ValueOf(obj)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
