package fieldsel

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// Fields returns the field set the real API server exposes for this object: always metadata.name and,
// for namespaced kinds, metadata.namespace; plus per kind e.g. pods: spec.nodeName, spec.restartPolicy,
// spec.schedulerName, spec.serviceAccountName, spec.hostNetwork ("true"/"false"), status.phase, status.podIP,
// status.nominatedNodeName; nodes: spec.unschedulable; events: involvedObject.kind/.namespace/.name/.uid/
// .apiVersion/.resourceVersion/.fieldPath, reason, reportingComponent, source, type; secrets: type;
// namespaces: status.phase; replicasets/replicationcontrollers: status.replicas; jobs: status.successful;
// services: spec.clusterIP, spec.type.
//
// Values are strings, as the selector compares strings: numbers in decimal,
// booleans as "true"/"false".
func Fields(obj runtime.Object) fields.Set {
	if u, ok := obj.(runtime.Unstructured); ok {
		if typed := asTyped(u); typed != nil {
			obj = typed
		}
	}
	set := metadataFields(obj)
	for k, v := range kindFields(obj) {
		set[k] = v
	}
	return set
}

// kindFields returns the fields one kind adds to the metadata ones.
func kindFields(obj runtime.Object) fields.Set {
	switch o := obj.(type) {
	case *corev1.Pod:
		podIP := o.Status.PodIP
		if len(o.Status.PodIPs) > 0 {
			podIP = o.Status.PodIPs[0].IP
		}
		return fields.Set{
			"spec.nodeName":            o.Spec.NodeName,
			"spec.restartPolicy":       string(o.Spec.RestartPolicy),
			"spec.schedulerName":       o.Spec.SchedulerName,
			"spec.serviceAccountName":  o.Spec.ServiceAccountName,
			"spec.hostNetwork":         strconv.FormatBool(o.Spec.HostNetwork),
			"status.phase":             string(o.Status.Phase),
			"status.podIP":             podIP,
			"status.nominatedNodeName": o.Status.NominatedNodeName,
		}
	case *corev1.Node:
		return fields.Set{"spec.unschedulable": strconv.FormatBool(o.Spec.Unschedulable)}
	case *corev1.Namespace:
		return fields.Set{"status.phase": string(o.Status.Phase)}
	case *corev1.Secret:
		return fields.Set{"type": string(o.Type)}
	case *corev1.Service:
		return fields.Set{"spec.clusterIP": o.Spec.ClusterIP, "spec.type": string(o.Spec.Type)}
	case *corev1.ReplicationController:
		return fields.Set{"status.replicas": strconv.Itoa(int(o.Status.Replicas))}
	case *appsv1.ReplicaSet:
		// Upstream computes this too, but apps/v1 does not let a selector
		// use it (see rules), so it only matters to in-process callers.
		return fields.Set{"status.replicas": strconv.Itoa(int(o.Status.Replicas))}
	case *batchv1.Job:
		return fields.Set{"status.successful": strconv.Itoa(int(o.Status.Succeeded))}
	case *certificatesv1.CertificateSigningRequest:
		return fields.Set{"spec.signerName": o.Spec.SignerName}
	case *corev1.Event:
		return eventFields(o.InvolvedObject, o.Reason, o.Source.Component, o.ReportingController, o.Type)
	case *eventsv1.Event:
		// The same stored object seen through events.k8s.io/v1: expose it
		// under the core/v1 names, which Parse rewrites regarding.* to.
		return eventFields(o.Regarding, o.Reason, o.DeprecatedSource.Component, o.ReportingController, o.Type)
	}
	return nil
}

// eventFields are the fields `kubectl describe` selects events by.
// "source" is the reporting component of old-style events, falling back to
// the reporting controller of new-style ones.
func eventFields(ref corev1.ObjectReference, reason, sourceComponent, reportingController, eventType string) fields.Set {
	source := sourceComponent
	if source == "" {
		source = reportingController
	}
	return fields.Set{
		"involvedObject.kind":            ref.Kind,
		"involvedObject.namespace":       ref.Namespace,
		"involvedObject.name":            ref.Name,
		"involvedObject.uid":             string(ref.UID),
		"involvedObject.apiVersion":      ref.APIVersion,
		"involvedObject.resourceVersion": ref.ResourceVersion,
		"involvedObject.fieldPath":       ref.FieldPath,
		"reason":                         reason,
		"reportingComponent":             reportingController,
		"source":                         source,
		"type":                           eventType,
	}
}

// metadataFields is what every object offers: its name and, when it lives in
// a namespace, the namespace.
func metadataFields(obj runtime.Object) fields.Set {
	m, err := meta.Accessor(obj)
	if err != nil {
		return fields.Set{}
	}
	set := fields.Set{"metadata.name": m.GetName()}
	if namespaced(obj, m.GetNamespace()) {
		set["metadata.namespace"] = m.GetNamespace()
	}
	return set
}

// namespaced reports whether obj's kind lives in namespaces. For the
// cluster-scoped built-ins the answer is no; for other types (custom
// resources among them) the object itself tells, by having a namespace.
func namespaced(obj runtime.Object, namespace string) bool {
	switch obj.(type) {
	case *corev1.Node, *corev1.Namespace, *corev1.PersistentVolume,
		*rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding,
		*certificatesv1.CertificateSigningRequest, *apiextensionsv1.CustomResourceDefinition:
		return false
	case *corev1.Pod, *corev1.Service, *corev1.Secret, *corev1.ConfigMap, *corev1.Event,
		*corev1.ReplicationController, *appsv1.ReplicaSet, *batchv1.Job, *eventsv1.Event:
		return true
	}
	return namespace != ""
}

// typedKinds knows the Go type of every built-in kind, so an unstructured
// built-in object (say a Pod read through a dynamic path) gets the same
// fields as a typed one.
var typedKinds = func() *runtime.Scheme {
	s := runtime.NewScheme()
	// Both only register types; they cannot fail on a fresh scheme.
	_ = clientgoscheme.AddToScheme(s)
	_ = apiextensionsv1.AddToScheme(s)
	return s
}()

// asTyped converts an unstructured built-in object to its Go type, or
// returns nil for kinds without one (custom resources) or on bad input.
func asTyped(u runtime.Unstructured) runtime.Object {
	gvk := u.GetObjectKind().GroupVersionKind()
	if gvk.Empty() || !typedKinds.Recognizes(gvk) {
		return nil
	}
	obj, err := typedKinds.New(gvk)
	if err != nil {
		return nil
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), obj); err != nil {
		return nil
	}
	return obj
}
