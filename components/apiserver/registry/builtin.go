package registry

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// replicasScale is where every built-in workload keeps its replica counts.
var replicasScale = &ScalePaths{SpecReplicas: ".spec.replicas", StatusReplicas: ".status.replicas", LabelSelector: ".spec.selector"}

// Builtin returns the resources kubelab serves out of the box. Each line is
// what upstream's registry says about the kind; the etcd key roots follow
// Kubernetes (`etcdctl get --prefix /registry/pods`).
func Builtin() []*Info {
	gv := func(g, v string) schema.GroupVersion { return schema.GroupVersion{Group: g, Version: v} }
	core, apps, batch := gv("", "v1"), gv("apps", "v1"), gv("batch", "v1")
	all := []string{"all"}

	infos := []*Info{
		{GVK: core.WithKind("Namespace"), Resource: "namespaces", ShortNames: []string{"ns"}, Status: true,
			New: func() runtime.Object { return &corev1.Namespace{} }, NewList: func() runtime.Object { return &corev1.NamespaceList{} },
			Subresources: []string{"finalize"}},
		{GVK: core.WithKind("Pod"), Resource: "pods", ShortNames: []string{"po"}, Categories: all, Namespaced: true, Status: true, Generation: true, TriggerField: "spec.nodeName",
			New: func() runtime.Object { return &corev1.Pod{} }, NewList: func() runtime.Object { return &corev1.PodList{} },
			Subresources: []string{"binding", "log", "exec", "attach", "portforward", "eviction", "ephemeralcontainers"}},
		{GVK: core.WithKind("Node"), Resource: "nodes", ShortNames: []string{"no"}, Status: true, KeepStatusOnCreate: true,
			New: func() runtime.Object { return &corev1.Node{} }, NewList: func() runtime.Object { return &corev1.NodeList{} },
			Subresources: []string{"proxy"}},
		{GVK: core.WithKind("Service"), Resource: "services", ShortNames: []string{"svc"}, Categories: all, Namespaced: true, Status: true, KeyRoot: "/registry/services/specs",
			New: func() runtime.Object { return &corev1.Service{} }, NewList: func() runtime.Object { return &corev1.ServiceList{} },
			Subresources: []string{"proxy"}},
		{GVK: core.WithKind("Endpoints"), Resource: "endpoints", ShortNames: []string{"ep"}, Namespaced: true, AllowCreateOnUpdate: true, KeyRoot: "/registry/services/endpoints",
			New: func() runtime.Object { return &corev1.Endpoints{} }, NewList: func() runtime.Object { return &corev1.EndpointsList{} }},
		{GVK: core.WithKind("ConfigMap"), Resource: "configmaps", ShortNames: []string{"cm"}, Namespaced: true,
			New: func() runtime.Object { return &corev1.ConfigMap{} }, NewList: func() runtime.Object { return &corev1.ConfigMapList{} }},
		{GVK: core.WithKind("Secret"), Resource: "secrets", Namespaced: true,
			New: func() runtime.Object { return &corev1.Secret{} }, NewList: func() runtime.Object { return &corev1.SecretList{} }},
		{GVK: core.WithKind("ServiceAccount"), Resource: "serviceaccounts", ShortNames: []string{"sa"}, Namespaced: true,
			New: func() runtime.Object { return &corev1.ServiceAccount{} }, NewList: func() runtime.Object { return &corev1.ServiceAccountList{} },
			Subresources: []string{"token"}},
		{GVK: core.WithKind("Event"), Resource: "events", ShortNames: []string{"ev"}, Namespaced: true, AllowCreateOnUpdate: true,
			New: func() runtime.Object { return &corev1.Event{} }, NewList: func() runtime.Object { return &corev1.EventList{} }},
		{GVK: core.WithKind("ReplicationController"), Resource: "replicationcontrollers", ShortNames: []string{"rc"}, Categories: all, Namespaced: true, Status: true, Generation: true, Scale: replicasScale, KeyRoot: "/registry/controllers",
			New: func() runtime.Object { return &corev1.ReplicationController{} }, NewList: func() runtime.Object { return &corev1.ReplicationControllerList{} }},
		{GVK: core.WithKind("PersistentVolumeClaim"), Resource: "persistentvolumeclaims", ShortNames: []string{"pvc"}, Namespaced: true, Status: true,
			New: func() runtime.Object { return &corev1.PersistentVolumeClaim{} }, NewList: func() runtime.Object { return &corev1.PersistentVolumeClaimList{} }},
		{GVK: core.WithKind("PersistentVolume"), Resource: "persistentvolumes", ShortNames: []string{"pv"}, Status: true,
			New: func() runtime.Object { return &corev1.PersistentVolume{} }, NewList: func() runtime.Object { return &corev1.PersistentVolumeList{} }},
		{GVK: core.WithKind("ResourceQuota"), Resource: "resourcequotas", ShortNames: []string{"quota"}, Namespaced: true, Status: true,
			New: func() runtime.Object { return &corev1.ResourceQuota{} }, NewList: func() runtime.Object { return &corev1.ResourceQuotaList{} }},
		{GVK: core.WithKind("LimitRange"), Resource: "limitranges", ShortNames: []string{"limits"}, Namespaced: true,
			New: func() runtime.Object { return &corev1.LimitRange{} }, NewList: func() runtime.Object { return &corev1.LimitRangeList{} }},

		{GVK: apps.WithKind("Deployment"), Resource: "deployments", ShortNames: []string{"deploy"}, Categories: all, Namespaced: true, Status: true, Generation: true, Scale: replicasScale,
			New: func() runtime.Object { return &appsv1.Deployment{} }, NewList: func() runtime.Object { return &appsv1.DeploymentList{} }},
		{GVK: apps.WithKind("ReplicaSet"), Resource: "replicasets", ShortNames: []string{"rs"}, Categories: all, Namespaced: true, Status: true, Generation: true, Scale: replicasScale,
			New: func() runtime.Object { return &appsv1.ReplicaSet{} }, NewList: func() runtime.Object { return &appsv1.ReplicaSetList{} }},
		{GVK: apps.WithKind("DaemonSet"), Resource: "daemonsets", ShortNames: []string{"ds"}, Categories: all, Namespaced: true, Status: true, Generation: true,
			New: func() runtime.Object { return &appsv1.DaemonSet{} }, NewList: func() runtime.Object { return &appsv1.DaemonSetList{} }},
		{GVK: apps.WithKind("StatefulSet"), Resource: "statefulsets", ShortNames: []string{"sts"}, Categories: all, Namespaced: true, Status: true, Generation: true, Scale: replicasScale,
			New: func() runtime.Object { return &appsv1.StatefulSet{} }, NewList: func() runtime.Object { return &appsv1.StatefulSetList{} }},
		{GVK: apps.WithKind("ControllerRevision"), Resource: "controllerrevisions", Namespaced: true,
			New: func() runtime.Object { return &appsv1.ControllerRevision{} }, NewList: func() runtime.Object { return &appsv1.ControllerRevisionList{} }},

		{GVK: batch.WithKind("Job"), Resource: "jobs", Categories: all, Namespaced: true, Status: true, Generation: true,
			New: func() runtime.Object { return &batchv1.Job{} }, NewList: func() runtime.Object { return &batchv1.JobList{} }},
		{GVK: batch.WithKind("CronJob"), Resource: "cronjobs", ShortNames: []string{"cj"}, Categories: all, Namespaced: true, Status: true, Generation: true,
			New: func() runtime.Object { return &batchv1.CronJob{} }, NewList: func() runtime.Object { return &batchv1.CronJobList{} }},

		{GVK: gv("autoscaling", "v2").WithKind("HorizontalPodAutoscaler"), Resource: "horizontalpodautoscalers", ShortNames: []string{"hpa"}, Categories: all, Namespaced: true, Status: true, Generation: true,
			New: func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscaler{} }, NewList: func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscalerList{} }},
		{GVK: gv("policy", "v1").WithKind("PodDisruptionBudget"), Resource: "poddisruptionbudgets", ShortNames: []string{"pdb"}, Namespaced: true, Status: true, Generation: true,
			New: func() runtime.Object { return &policyv1.PodDisruptionBudget{} }, NewList: func() runtime.Object { return &policyv1.PodDisruptionBudgetList{} }},
		{GVK: gv("discovery.k8s.io", "v1").WithKind("EndpointSlice"), Resource: "endpointslices", Namespaced: true,
			New: func() runtime.Object { return &discoveryv1.EndpointSlice{} }, NewList: func() runtime.Object { return &discoveryv1.EndpointSliceList{} }},
		{GVK: gv("coordination.k8s.io", "v1").WithKind("Lease"), Resource: "leases", Namespaced: true, AllowCreateOnUpdate: true,
			New: func() runtime.Object { return &coordinationv1.Lease{} }, NewList: func() runtime.Object { return &coordinationv1.LeaseList{} }},

		{GVK: gv("rbac.authorization.k8s.io", "v1").WithKind("Role"), Resource: "roles", Namespaced: true,
			New: func() runtime.Object { return &rbacv1.Role{} }, NewList: func() runtime.Object { return &rbacv1.RoleList{} }},
		{GVK: gv("rbac.authorization.k8s.io", "v1").WithKind("RoleBinding"), Resource: "rolebindings", Namespaced: true,
			New: func() runtime.Object { return &rbacv1.RoleBinding{} }, NewList: func() runtime.Object { return &rbacv1.RoleBindingList{} }},
		{GVK: gv("rbac.authorization.k8s.io", "v1").WithKind("ClusterRole"), Resource: "clusterroles",
			New: func() runtime.Object { return &rbacv1.ClusterRole{} }, NewList: func() runtime.Object { return &rbacv1.ClusterRoleList{} }},
		{GVK: gv("rbac.authorization.k8s.io", "v1").WithKind("ClusterRoleBinding"), Resource: "clusterrolebindings",
			New: func() runtime.Object { return &rbacv1.ClusterRoleBinding{} }, NewList: func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} }},

		{GVK: gv("apiextensions.k8s.io", "v1").WithKind("CustomResourceDefinition"), Resource: "customresourcedefinitions", ShortNames: []string{"crd", "crds"}, Categories: []string{"api-extensions"}, Status: true, Generation: true,
			KeyRoot: "/registry/apiextensions.k8s.io/customresourcedefinitions",
			New:     func() runtime.Object { return &apiextensionsv1.CustomResourceDefinition{} }, NewList: func() runtime.Object { return &apiextensionsv1.CustomResourceDefinitionList{} }},
	}
	for _, i := range infos {
		i.Singular = lower(i.GVK.Kind)
		if i.KeyRoot == "" {
			i.KeyRoot = "/registry/" + i.Resource
		}
	}
	return infos
}

// ScaleGVK is the kind of every /scale subresource.
var ScaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
