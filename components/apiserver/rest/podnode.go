package rest

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubelab/kubelab/components/apiserver/registry"
)

// The pod subresources that live on the node (log, exec, attach,
// portforward) share one lookup: the pod, its container, its node, the
// node's kubelet URL. The answers are upstream's, word for word where
// kubectl users meet them.

var nodesGVR = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}

// kubeletTarget is where on which kubelet a pod subresource is served.
type kubeletTarget struct {
	pod       *corev1.Pod
	container string
	node      string
	base      *url.URL // https://address:port of the kubelet
}

// podTarget loads the pod, resolves the container when withContainer
// (empty: the only one, or the kubectl.kubernetes.io/default-container
// annotation) and, when the pod is bound, the node's kubelet URL (base is
// nil for an unbound pod).
func (h *Handler) podTarget(r *http.Request, ri *RequestInfo, st *registry.Store, container string, withContainer bool) (*kubeletTarget, error) {
	obj, err := st.Get(r.Context(), ri.Namespace, ri.Name)
	if err != nil {
		return nil, err
	}
	pod := obj.(*corev1.Pod)
	t := &kubeletTarget{pod: pod, node: pod.Spec.NodeName}
	if withContainer {
		if t.container, err = podContainer(pod, container); err != nil {
			return nil, err
		}
	}
	if t.node == "" {
		return t, nil
	}
	if h.Kubelet == nil {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("pods/%s: this API server has no kubelet client configured", ri.Subresource))
	}
	nodes, ok := h.Registry.Lookup(nodesGVR)
	if !ok {
		return nil, apierrors.NewInternalError(fmt.Errorf("nodes are not served"))
	}
	nobj, err := nodes.Get(r.Context(), "", t.node)
	if err != nil {
		return nil, err
	}
	if t.base, err = h.Kubelet.NodeURL(nobj.(*corev1.Node)); err != nil {
		return nil, apierrors.NewServiceUnavailable(err.Error())
	}
	return t, nil
}

// podContainer validates a container name, or picks the default one, like
// upstream's validateContainer. Upstream leaves the default-container
// annotation to kubectl; honouring it here too helps curl users and costs
// nothing.
func podContainer(pod *corev1.Pod, name string) (string, error) {
	var names []string
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		names = append(names, c.Name)
	}
	if name == "" {
		if def := pod.Annotations["kubectl.kubernetes.io/default-container"]; def != "" {
			name = def
		} else {
			switch len(pod.Spec.Containers) {
			case 0:
				return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", pod.Name))
			case 1:
				return pod.Spec.Containers[0].Name, nil
			default:
				return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", pod.Name, names))
			}
		}
	}
	for _, n := range names {
		if n == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}

// queryBool reads a boolean query parameter ("true", "1", ...); absent is false.
func queryBool(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, apierrors.NewBadRequest(fmt.Sprintf("query parameter %s=%q is not a boolean", name, v))
	}
	return b, nil
}

// queryInt reads an optional integer query parameter.
func queryInt(q url.Values, name string) (*int64, error) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("query parameter %s=%q is not an integer", name, v))
	}
	return &n, nil
}

// kubeletError turns a kubelet's non-2xx answer (a plain-text message) into
// a Status kubectl prints, like upstream's GenericHttpResponseChecker but
// keeping the kubelet's words for 404 too. A 401 is about the API server's
// own credentials, not the user's: passed on as is, kubectl would tell the
// user to log in.
func kubeletError(code int, body string, gr schema.GroupResource, name, node string) error {
	switch code {
	case http.StatusUnauthorized:
		return apierrors.NewInternalError(fmt.Errorf("the kubelet on node %s did not accept the API server's credentials (401): "+
			"--kubelet-client-certificate must be signed by the kubelet's --client-ca-file", node))
	case http.StatusBadRequest:
		return apierrors.NewBadRequest(body)
	case http.StatusNotFound:
		err := apierrors.NewNotFound(gr, name)
		err.ErrStatus.Message = body
		return err
	case http.StatusInternalServerError:
		return apierrors.NewInternalError(fmt.Errorf("%s", body))
	}
	return apierrors.NewGenericServerResponse(code, "get", gr, name, body, 0, false)
}
