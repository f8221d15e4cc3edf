package rest

import (
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubelab/kubelab/components/apiserver/registry"
)

// serveSubresource handles /status, /scale, pods/binding, namespaces/finalize
// and the node-backed pod subresources (log, exec, attach, portforward: see
// podlog.go and podstream.go).
func (h *Handler) serveSubresource(w http.ResponseWriter, r *http.Request, ri *RequestInfo, st *registry.Store) {
	switch ri.Subresource {
	case "status":
		switch ri.Verb {
		case "get":
			h.get(w, r, ri, st)
		case "update":
			h.update(w, r, ri, st, "status")
		case "patch":
			h.patch(w, r, ri, st, "status")
		default:
			writeError(w, apierrors.NewMethodNotSupported(st.Info.GroupResource(), r.Method))
		}
	case "scale":
		h.scale(w, r, ri, st)
	case "binding":
		h.bind(w, r, ri, st)
	case "eviction":
		h.evict(w, r, ri, st)
	case "finalize":
		h.finalize(w, r, ri, st)
	case "log":
		h.podLog(w, r, ri, st)
	case "exec", "attach", "portforward":
		h.podStream(w, r, ri, st)
	default:
		// proxy, token, ...: these need the node/service proxy (or the token
		// issuer); they arrive with the issues that build them.
		writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf(
			"%s/%s is not served yet by this kubelab API server", ri.Resource, ri.Subresource)))
	}
}

// bind serves POST pods/{name}/binding: the scheduler's one write. It sets
// spec.nodeName once (409 if the pod is already bound) and the PodScheduled
// condition.
func (h *Handler) bind(w http.ResponseWriter, r *http.Request, ri *RequestInfo, st *registry.Store) {
	if ri.Verb != "create" {
		writeError(w, apierrors.NewMethodNotSupported(schema.GroupResource{Resource: "pods/binding"}, r.Method))
		return
	}
	data, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	obj, _, err := decodeObject(r, data, st.Info, corev1.SchemeGroupVersion.WithKind("Binding"))
	if err != nil {
		writeError(w, err)
		return
	}
	b := obj.(*corev1.Binding)
	if b.Target.Kind != "" && b.Target.Kind != "Node" || b.Target.Name == "" {
		writeError(w, apierrors.NewInvalid(schema.GroupKind{Kind: "Binding"}, b.Name, nil))
		return
	}
	_, _, err = st.Update(r.Context(), ri.Namespace, ri.Name, func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			return nil, apierrors.NewNotFound(st.Info.GroupResource(), ri.Name)
		}
		pod := cur.(*corev1.Pod)
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(st.Info.GroupResource(), ri.Name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", ri.Name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(st.Info.GroupResource(), ri.Name, fmt.Errorf("pod %s is already assigned to node %q", ri.Name, pod.Spec.NodeName))
		}
		pod.Spec.NodeName = b.Target.Name
		for k, v := range b.Annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		setPodScheduled(pod)
		pod.ResourceVersion = ""
		return pod, nil
	}, registry.WriteOptions{FieldManager: managerFromUserAgent(r.UserAgent()), Subresource: "binding"})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated})
}

func setPodScheduled(pod *corev1.Pod) {
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodScheduled {
			pod.Status.Conditions[i] = cond
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, cond)
}

// finalize serves PUT namespaces/{name}/finalize: the namespace controller
// removes its spec.finalizers entry when the namespace is empty, and a
// terminating namespace with no finalizers left is deleted.
func (h *Handler) finalize(w http.ResponseWriter, r *http.Request, ri *RequestInfo, st *registry.Store) {
	if ri.Verb != "update" {
		writeError(w, apierrors.NewMethodNotSupported(st.Info.GroupResource(), r.Method))
		return
	}
	data, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	obj, _, err := decodeObject(r, data, st.Info, st.Info.GVK)
	if err != nil {
		writeError(w, err)
		return
	}
	want := obj.(*corev1.Namespace)
	out, _, err := st.Update(r.Context(), "", ri.Name, func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			return nil, apierrors.NewNotFound(st.Info.GroupResource(), ri.Name)
		}
		ns := cur.(*corev1.Namespace)
		ns.Spec.Finalizers = want.Spec.Finalizers
		ns.ResourceVersion = want.ResourceVersion
		return ns, nil
	}, registry.WriteOptions{FieldManager: managerFromUserAgent(r.UserAgent()), Subresource: "finalize"})
	if err != nil {
		writeError(w, err)
		return
	}
	ns := out.(*corev1.Namespace)
	if ns.DeletionTimestamp != nil && len(ns.Spec.Finalizers) == 0 && len(ns.Finalizers) == 0 {
		if _, _, err := st.Delete(r.Context(), "", ri.Name, nil, false); err != nil && !apierrors.IsNotFound(err) {
			writeError(w, err)
			return
		}
	}
	writeObject(w, r, st, http.StatusOK, out)
}

func metaOf(obj runtime.Object) (metav1.Object, error) { return meta.Accessor(obj) }
