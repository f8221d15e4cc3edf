package tables

import (
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestBindings(t *testing.T) {
	subjects := []rbacv1.Subject{
		{Kind: rbacv1.UserKind, Name: "alice"}, {Kind: rbacv1.UserKind, Name: "bob"},
		{Kind: rbacv1.GroupKind, Name: "system:nodes"},
		{Kind: rbacv1.ServiceAccountKind, Namespace: "kube-system", Name: "coredns"},
	}
	created := ago(45 * 24 * time.Hour)
	columns := []string{"Name:string", "Role:string", "Age:string", "Users:string:wide", "Groups:string:wide", "ServiceAccounts:string:wide"}
	want := []interface{}{"view-all", "ClusterRole/view", "45d", "alice, bob", "system:nodes", "kube-system/coredns"}

	t.Run("RoleBinding", func(t *testing.T) {
		p := For(rbacv1.SchemeGroupVersion.WithKind("RoleBinding"))
		assertColumns(t, p, columns...)
		assertCells(t, p, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "view-all", CreationTimestamp: created},
			RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}, Subjects: subjects}, want...)
	})
	t.Run("ClusterRoleBinding", func(t *testing.T) {
		p := For(rbacv1.SchemeGroupVersion.WithKind("ClusterRoleBinding"))
		assertColumns(t, p, columns...)
		assertCells(t, p, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "view-all", CreationTimestamp: created},
			RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}, Subjects: subjects}, want...)
	})
	t.Run("ClusterRole has no columns of its own", func(t *testing.T) {
		p := For(rbacv1.SchemeGroupVersion.WithKind("ClusterRole"))
		assertColumns(t, p, "Name:string", "Created At:date")
		assertCells(t, p, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "view", CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}},
			"view", "2026-01-02T03:04:05Z")
	})
}

func TestLease(t *testing.T) {
	p := For(coordinationv1.SchemeGroupVersion.WithKind("Lease"))
	assertColumns(t, p, "Name:string", "Holder:string", "Age:string")
	assertCells(t, p, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "kube-scheduler", CreationTimestamp: ago(time.Hour)},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("controller-0_6b1f")}}, "kube-scheduler", "controller-0_6b1f", "60m")
	assertCells(t, p, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "free", CreationTimestamp: ago(time.Hour)}}, "free", "", "60m")
}

func TestHorizontalPodAutoscaler(t *testing.T) {
	wantColumns := []string{"Name:string", "Reference:string", "Targets:string", "MinPods:string", "MaxPods:string", "Replicas:string", "Age:string"}
	meta := metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(20 * time.Minute)}
	ref := autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}
	qty := resource.MustParse

	t.Run("v2", func(t *testing.T) {
		p := For(autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"))
		assertColumns(t, p, wantColumns...)
		hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: meta,
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: ref, MinReplicas: ptr(int32(2)), MaxReplicas: 10, Metrics: []autoscalingv2.MetricSpec{
				cpuUtilizationMetric(60),
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr(qty("500Mi"))}}},
				{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{Target: autoscalingv2.MetricTarget{AverageValue: ptr(qty("1k"))}}},
			}},
			Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 3, CurrentMetrics: []autoscalingv2.MetricStatus{
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr(int32(12))}}},
			}},
		}
		assertCells(t, p, hpa, "web", "Deployment/web", "cpu: 12%/60%, memory: <unknown>/500Mi + 1 more...", "2", int64(10), int64(3), "20m")
	})
	t.Run("v2 without metrics gets the 80% default", func(t *testing.T) {
		p := For(autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"))
		hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: meta, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: ref, MaxReplicas: 5}}
		assertCells(t, p, hpa, "web", "Deployment/web", "cpu: <unknown>/80%", "<unset>", int64(5), int64(0), "20m")
	})
	t.Run("v1", func(t *testing.T) {
		p := For(autoscalingv1.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"))
		assertColumns(t, p, wantColumns...)
		hpa := &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: meta,
			Spec: autoscalingv1.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv1.CrossVersionObjectReference(ref),
				MinReplicas: ptr(int32(1)), MaxReplicas: 4, TargetCPUUtilizationPercentage: ptr(int32(50))},
			Status: autoscalingv1.HorizontalPodAutoscalerStatus{CurrentReplicas: 1, CurrentCPUUtilizationPercentage: ptr(int32(0))},
		}
		assertCells(t, p, hpa, "web", "Deployment/web", "cpu: 0%/50%", "1", int64(4), int64(1), "20m")
	})
	t.Run("malformed metric does not panic", func(t *testing.T) {
		p := For(autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"))
		hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: meta, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: ref, MaxReplicas: 5,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ExternalMetricSourceType}}}}
		assertCells(t, p, hpa, "web", "Deployment/web", "<unknown type>", "<unset>", int64(5), int64(0), "20m")
	})
}

func TestPodDisruptionBudget(t *testing.T) {
	p := For(policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"))
	assertColumns(t, p, "Name:string", "Min Available:string", "Max Unavailable:string", "Allowed Disruptions:integer", "Age:string")
	meta := metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(5 * time.Minute)}
	assertCells(t, p, &policyv1.PodDisruptionBudget{ObjectMeta: meta,
		Spec:   policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr(intstr.FromInt32(2))},
		Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1}}, "web", "2", "N/A", int64(1), "5m")
	assertCells(t, p, &policyv1.PodDisruptionBudget{ObjectMeta: meta,
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr(intstr.FromString("25%"))}}, "web", "N/A", "25%", int64(0), "5m")
}
