package apiserver

import (
	"context"
	"fmt"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilnet "k8s.io/utils/net"

	"github.com/kubelab/kubelab/components/apiserver/registry"
)

// SystemNamespaces exist in every cluster from the start.
var SystemNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// bootstrap creates what every cluster has before anyone writes: the system
// namespaces, and the `kubernetes` Service in default (the first IP of the
// service range, 10.32.0.1) whose endpoints point at this API server — how
// pods find the API.
func bootstrap(ctx context.Context, reg *registry.Registry, o Options) error {
	opts := registry.WriteOptions{FieldManager: "kube-apiserver"}
	nsStore := reg.MustLookup(registry.NamespacesGVR)
	for _, name := range SystemNamespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := ignoreExists(nsStore.Create(ctx, "", ns, opts)); err != nil {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
	}

	if err := bootstrapRBAC(ctx, reg, opts); err != nil {
		return err
	}

	_, cidr, err := net.ParseCIDR(strings.TrimSpace(strings.Split(o.ServiceClusterIPRange, ",")[0]))
	if err != nil {
		return fmt.Errorf("--service-cluster-ip-range %q: %w", o.ServiceClusterIPRange, err)
	}
	first, err := utilnet.GetIndexedIP(cidr, 1)
	if err != nil {
		return fmt.Errorf("first IP of %s: %w", cidr, err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: first.String(),
			Ports:     []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(int32(o.SecurePort))}},
		},
	}
	svcStore := reg.MustLookup(schema.GroupVersionResource{Version: "v1", Resource: "services"})
	if err := ignoreExists(svcStore.Create(ctx, "default", svc, opts)); err != nil {
		return fmt.Errorf("create the kubernetes service: %w", err)
	}
	return nil
}

// bootstrapRBAC creates the cluster-admin ClusterRole and its binding to the
// system:masters group, as every Kubernetes cluster has them: the admin
// certificate (O=system:masters) is cluster-admin through them once RBAC is
// enforced.
func bootstrapRBAC(ctx context.Context, reg *registry.Registry, opts registry.WriteOptions) error {
	rbac := func(res string) *registry.Store {
		return reg.MustLookup(schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: res})
	}
	labels := map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}
	annotations := map[string]string{"rbac.authorization.kubernetes.io/autoupdate": "true"}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-admin", Labels: labels, Annotations: annotations},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}},
			{NonResourceURLs: []string{"*"}, Verbs: []string{"*"}},
		},
	}
	if err := ignoreExists(rbac("clusterroles").Create(ctx, "", role, opts)); err != nil {
		return fmt.Errorf("create clusterrole cluster-admin: %w", err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-admin", Labels: labels, Annotations: annotations},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:masters"}},
	}
	if err := ignoreExists(rbac("clusterrolebindings").Create(ctx, "", binding, opts)); err != nil {
		return fmt.Errorf("create clusterrolebinding cluster-admin: %w", err)
	}
	return nil
}

func ignoreExists(_ runtime.Object, err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
