package validation

import (
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func zkPDB() *policyv1.PodDisruptionBudget {
	return defaulted(&policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "zk-pdb", Namespace: "default"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(2)),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "zookeeper"}},
		},
	})
}

func phpApacheHPA() *autoscalingv2.HorizontalPodAutoscaler {
	return defaulted(&autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "php-apache", Namespace: "default"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "php-apache"},
			MinReplicas:    ptr.To[int32](1),
			MaxReplicas:    10,
		},
	})
}

func TestNamespace(t *testing.T) {
	tests := []struct {
		name string
		ns   string
		fin  []corev1.FinalizerName
		want []string
	}{
		{"valid", "development", nil, nil},
		{"dots are not allowed", "team.a", nil, []string{`metadata.name: Invalid value: "team.a": must not contain dots`}},
		{"uppercase", "Dev", nil, []string{`metadata.name: Invalid value: "Dev": a lowercase RFC 1123 label must consist of`}},
		{"unqualified finalizer", "dev", []corev1.FinalizerName{"cleanup"},
			[]string{`spec.finalizers: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := defaulted(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tt.ns}, Spec: corev1.NamespaceSpec{Finalizers: tt.fin}})
			check(t, Create(ns), tt.want...)
		})
	}
	t.Run("namespace set on a cluster-scoped object", func(t *testing.T) {
		ns := defaulted(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "default"}})
		check(t, Create(ns), "metadata.namespace: Forbidden: not allowed on this type")
	})
}

func TestNode(t *testing.T) {
	worker := func() *corev1.Node {
		return defaulted(&corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "worker-0.kubelab.local", ResourceVersion: "1"},
			Spec:       corev1.NodeSpec{PodCIDR: "10.200.0.0/24"},
			Status:     corev1.NodeStatus{Capacity: corev1.ResourceList{"cpu": resource.MustParse("2")}},
		})
	}
	tests := []struct {
		name   string
		mutate func(n *corev1.Node)
		want   []string
	}{
		{"valid, with a subdomain name", func(n *corev1.Node) {}, nil},
		{"bad CIDR", func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.200.0.0/33", []string{"10.200.0.0/33"} },
			[]string{`spec.podCIDRs[0]: Invalid value: "10.200.0.0/33"`}},
		{"bad taint effect", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: "NoRun"}}
		}, []string{`spec.taints[0].effect: Unsupported value: "NoRun": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"`}},
		{"duplicate taint", func(n *corev1.Node) {
			taint := corev1.Taint{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}
			n.Spec.Taints = []corev1.Taint{taint, taint}
		}, []string{"spec.taints[1]: Duplicate value: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := worker()
			tt.mutate(n)
			check(t, Create(n), tt.want...)
		})
	}
	t.Run("podCIDR assigned once", func(t *testing.T) {
		old := worker()
		old.Spec.PodCIDR, old.Spec.PodCIDRs = "", nil
		n := old.DeepCopy()
		n.Spec.PodCIDR = "10.200.1.0/24"
		n = defaulted(n)
		check(t, Update(n, old))
		changed := n.DeepCopy()
		changed.Spec.PodCIDR, changed.Spec.PodCIDRs = "10.200.2.0/24", []string{"10.200.2.0/24"}
		check(t, Update(changed, n), `spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid`)
	})
}

func TestEventsAndLeases(t *testing.T) {
	t.Run("core event about a pod", func(t *testing.T) {
		e := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "nginx.17a2b3c4d5e6f789", Namespace: "default"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "nginx"},
			Reason:         "Scheduled", Message: "Successfully assigned default/nginx to worker-0", Type: corev1.EventTypeNormal,
		}
		check(t, Create(e))
		e.InvolvedObject.Namespace = "kube-system"
		check(t, Create(e), `involvedObject.namespace: Invalid value: "kube-system": does not match event.namespace`)
	})
	t.Run("events.k8s.io event needs a reporter", func(t *testing.T) {
		e := &eventsv1.Event{
			ObjectMeta: metav1.ObjectMeta{Name: "nginx.1", Namespace: "default"},
			EventTime:  metav1.NewMicroTime(time.Now()),
			Regarding:  corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "nginx"},
			Reason:     "Scheduled", Action: "Binding", Type: corev1.EventTypeNormal,
			ReportingController: "default-scheduler", ReportingInstance: "default-scheduler-controller-0",
		}
		check(t, Create(e))
		e.ReportingController, e.Type = "", "Info"
		check(t, Create(e), "reportingController: Required value", `type: Invalid value: "": has invalid value: Info`)
	})
	t.Run("lease", func(t *testing.T) {
		l := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: "worker-0", Namespace: "kube-node-lease"},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To("worker-0"), LeaseDurationSeconds: ptr.To[int32](40)},
		}
		check(t, Create(l))
		l.Spec.LeaseDurationSeconds = ptr.To[int32](0)
		check(t, Create(l), "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0")
	})
}

func TestRBAC(t *testing.T) {
	podReader := func() *rbacv1.Role {
		return &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "pod-reader", Namespace: "default"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "watch", "list"}}},
		}
	}
	t.Run("role", func(t *testing.T) {
		check(t, Create(podReader()))
		r := podReader()
		r.Rules[0].Verbs = nil
		check(t, Create(r), "rules[0].verbs: Required value: verbs must contain at least one value")
		r = podReader()
		r.Rules[0].NonResourceURLs = []string{"/healthz"}
		check(t, Create(r), "rules[0].nonResourceURLs: Invalid value: [\"/healthz\"]: namespaced rules cannot apply to non-resource URLs",
			"rules[0].nonResourceURLs: Invalid value: [\"/healthz\"]: rules cannot apply to both regular resources and non-resource URLs")
	})
	t.Run("cluster role names may contain colons", func(t *testing.T) {
		cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "system:controller:deployment-controller"},
			Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/healthz"}, Verbs: []string{"get"}}}}
		check(t, Create(cr))
	})
	readPods := func() *rbacv1.RoleBinding {
		return defaulted(&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "read-pods", Namespace: "default", ResourceVersion: "1"},
			Subjects:   []rbacv1.Subject{{Kind: "User", Name: "jane"}},
			RoleRef:    rbacv1.RoleRef{Kind: "Role", Name: "pod-reader"},
		})
	}
	t.Run("binding", func(t *testing.T) {
		check(t, Create(readPods()))
		b := readPods()
		b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: "Robot", Name: "r2"})
		check(t, Create(b), `subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"`)
		b = readPods()
		b.RoleRef.Name = ""
		check(t, Create(b), "roleRef.name: Required value")
	})
	t.Run("cluster binding needs service account namespace", func(t *testing.T) {
		b := defaulted(&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "read-secrets-global"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "builder"}},
			RoleRef:  rbacv1.RoleRef{Kind: "Role", Name: "secret-reader"}})
		check(t, Create(b), "subjects[0].namespace: Required value",
			`roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"`)
	})
	t.Run("roleRef is immutable", func(t *testing.T) {
		old := readPods()
		b := old.DeepCopy()
		b.RoleRef.Name = "secret-reader"
		check(t, Update(b, old), "roleRef: Invalid value: ")
		b = old.DeepCopy()
		b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: "Group", Name: "ops", APIGroup: rbacv1.GroupName})
		check(t, Update(b, old))
	})
}
