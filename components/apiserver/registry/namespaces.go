package registry

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// NamespacesGVR names the namespaces resource.
var NamespacesGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// checkNamespace is the NamespaceLifecycle admission plugin: objects may only
// be created in a namespace that exists and is not being deleted.
func (r *Registry) checkNamespace(ctx context.Context, ns string) error {
	st, ok := r.Lookup(NamespacesGVR)
	if !ok {
		return nil
	}
	// A live read, not the watch cache: a namespace deleted a moment ago
	// must already refuse new content.
	obj, err := st.Get(ctx, "", ns)
	if err != nil {
		return err // NotFound: `namespaces "x" not found`, like Kubernetes
	}
	if n := obj.(*corev1.Namespace); n.Status.Phase == corev1.NamespaceTerminating || n.DeletionTimestamp != nil {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, ns,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns))
	}
	return nil
}

// NamespaceHooks make deleting a namespace a two-step affair: DELETE marks it
// Terminating; the namespace controller empties it and then removes the
// "kubernetes" finalizer from spec.finalizers through /finalize, which is
// when the namespace is really deleted.
func NamespaceHooks() Hooks {
	return Hooks{
		PrepareCreate: func(obj runtime.Object) {
			ns := obj.(*corev1.Namespace)
			ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
			if len(ns.Spec.Finalizers) == 0 {
				ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
			}
		},
		BeforeDelete: func(obj runtime.Object, _ *metav1.DeleteOptions, now time.Time) (bool, error) {
			ns := obj.(*corev1.Namespace)
			if len(ns.Spec.Finalizers) == 0 {
				return false, nil
			}
			if ns.DeletionTimestamp == nil {
				t := metav1.NewTime(now)
				ns.DeletionTimestamp = &t
			}
			ns.Status.Phase = corev1.NamespaceTerminating
			return true, nil
		},
	}
}

// ProtectedNamespaces cannot be deleted, like in Kubernetes.
var ProtectedNamespaces = map[string]bool{"default": true, "kube-system": true, "kube-public": true}
