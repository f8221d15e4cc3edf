package rest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubelab/kubelab/components/apiserver/authz"
	"github.com/kubelab/kubelab/components/apiserver/kubeletclient"
	"github.com/kubelab/kubelab/components/apiserver/registry"
)

// Handler serves every resource URL from the registry.
type Handler struct {
	Registry *registry.Registry
	// ParseFields parses a fieldSelector for a kind (400 on unknown labels).
	ParseFields func(gvk schema.GroupVersionKind, selector string) (fields.Selector, error)
	// Authorizer answers SelfSubjectAccessReviews (kubectl auth can-i).
	Authorizer authz.Authorizer
	// Kubelet reaches nodes' kubelets for pods/log, exec, attach and
	// portforward; nil answers those with 503.
	Kubelet *kubeletclient.Client
}

// ServeHTTP dispatches one resource request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ri := ParseRequestInfo(r)
	if !ri.IsResource {
		http.NotFound(w, r)
		return
	}
	if h.serveVirtual(w, r, ri) {
		return
	}
	st, ok := h.Registry.Lookup(ri.GVR())
	if !ok {
		// Like upstream's notfoundhandler: a resource nobody serves is a
		// plain 404, not a Status, so client-go says "the server could not
		// find the requested resource (get pods.metrics.k8s.io)".
		http.NotFound(w, r)
		return
	}
	info := st.Info
	if info.Namespaced && ri.Name != "" && ri.Namespace == "" {
		writeError(w, apierrors.NewNotFound(info.GroupResource(), ri.Name))
		return
	}
	if !info.Namespaced {
		ri.Namespace = ""
	}
	if ri.Subresource != "" {
		if !info.HasSubresource(ri.Subresource) {
			writeError(w, apierrors.NewNotFound(schema.GroupResource{Group: ri.Group, Resource: ri.Resource + "/" + ri.Subresource}, ri.Name))
			return
		}
		h.serveSubresource(w, r, ri, st)
		return
	}
	switch ri.Verb {
	case "get":
		h.get(w, r, ri, st)
	case "list":
		h.list(w, r, ri, st)
	case "watch":
		h.watch(w, r, ri, st)
	case "create":
		if ri.Name != "" {
			writeError(w, apierrors.NewMethodNotSupported(info.GroupResource(), "create on a named object"))
			return
		}
		h.create(w, r, ri, st)
	case "update":
		h.update(w, r, ri, st, "")
	case "patch":
		h.patch(w, r, ri, st, "")
	case "delete":
		h.delete(w, r, ri, st)
	case "deletecollection":
		h.deleteCollection(w, r, ri, st)
	default:
		writeError(w, apierrors.NewMethodNotSupported(info.GroupResource(), r.Method))
	}
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, ri *RequestInfo, st *registry.Store) {
	obj, err := st.Get(r.Context(), ri.Namespace, ri.Name)
	if err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, r, st, http.StatusOK, obj)
}

// selectors parses labelSelector and fieldSelector.
func (h *Handler) selectors(r *http.Request, st *registry.Store) (registry.Selectors, error) {
	q := r.URL.Query()
	var sel registry.Selectors
	ls, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		return sel, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
	}
	sel.Labels = ls
	if fs := q.Get("fieldSelector"); fs != "" {
		parsed, err := h.ParseFields(st.Info.GVK, fs)
		if err != nil {
			return sel, apierrors.NewBadRequest(err.Error())
		}
		sel.Fields = parsed
	}
	return sel, nil
}

// list answers a collection: a consistent read (it sees every write that
// finished before it started), in chunks when the client asks (?limit=).
func (h *Handler) list(w http.ResponseWriter, r *http.Request, ri *RequestInfo, st *registry.Store) {
	sel, err := h.selectors(r, st)
	if err != nil {
		writeError(w, err)
		return
	}
	var limit int64
	if l := r.URL.Query().Get("limit"); l != "" {
		if limit, err = strconv.ParseInt(l, 10, 64); err != nil || limit < 0 {
			writeError(w, apierrors.NewBadRequest(fmt.Sprintf("invalid limit %q", l)))
			return
		}
	}
	page, err := st.ListPage(r.Context(), ri.Namespace, sel, limit, r.URL.Query().Get("continue"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeList(w, r, st, page.Items, metav1.ListMeta{ResourceVersion: strconv.FormatInt(page.Rev, 10), Continue: page.Continue})
}

// writeOptions reads dryRun, fieldManager and force from the query.
func writeOptions(r *http.Request, sub string) (registry.WriteOptions, error) {
	q := r.URL.Query()
	opts := registry.WriteOptions{Subresource: sub, FieldManager: q.Get("fieldManager")}
	for _, d := range q["dryRun"] {
		if d != "All" {
			return opts, apierrors.NewBadRequest(fmt.Sprintf("unsupported dryRun value %q: only \"All\" is supported", d))
		}
		opts.DryRun = true
	}
	if opts.FieldManager == "" {
		opts.FieldManager = managerFromUserAgent(r.UserAgent())
	}
	opts.Force = q.Get("force") == "true"
	return opts, nil
}

// managerFromUserAgent names the writer like upstream: the user agent up to
// its first "/" ("kubectl/v1.37.2 (linux/amd64)" -> "kubectl").
func managerFromUserAgent(ua string) string {
	if i := strings.Index(ua, "/"); i >= 0 {
		ua = ua[:i]
	}
	if ua == "" {
		return "unknown"
	}
	if len(ua) > 128 {
		ua = ua[:128]
	}
	return ua
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request, ri *RequestInfo, st *registry.Store) {
	data, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	obj, warnings, err := decodeObject(r, data, st.Info, st.Info.GVK)
	if err != nil {
		writeError(w, err)
		return
	}
	opts, err := writeOptions(r, "")
	if err != nil {
		writeError(w, err)
		return
	}
	out, err := st.Create(r.Context(), ri.Namespace, obj, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	addWarnings(w, warnings)
	writeObject(w, r, st, http.StatusCreated, out)
}

// update serves PUT: replace the object (or its status) with the body.
func (h *Handler) update(w http.ResponseWriter, r *http.Request, ri *RequestInfo, st *registry.Store, sub string) {
	data, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	obj, warnings, err := decodeObject(r, data, st.Info, st.Info.GVK)
	if err != nil {
		writeError(w, err)
		return
	}
	opts, err := writeOptions(r, sub)
	if err != nil {
		writeError(w, err)
		return
	}
	out, created, err := st.Update(r.Context(), ri.Namespace, ri.Name, func(runtime.Object) (runtime.Object, error) {
		return obj, nil
	}, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	addWarnings(w, warnings)
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeObject(w, r, st, code, out)
}

// deleteOptions reads DeleteOptions from the body (JSON or protobuf) and the query.
func deleteOptions(r *http.Request) (*metav1.DeleteOptions, bool, error) {
	opts := &metav1.DeleteOptions{}
	data, err := readBody(r)
	if err != nil {
		return nil, false, err
	}
	if len(data) > 0 {
		if _, _, err := registry.Codecs.UniversalDeserializer().Decode(data, &schema.GroupVersionKind{Version: "v1", Kind: "DeleteOptions"}, opts); err != nil {
			return nil, false, apierrors.NewBadRequest(fmt.Sprintf("decoding DeleteOptions: %v", err))
		}
	}
	if err := metav1.ParameterCodec.DecodeParameters(r.URL.Query(), metav1.SchemeGroupVersion, opts); err != nil {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("decoding delete parameters: %v", err))
	}
	dryRun := false
	for _, d := range opts.DryRun {
		if d != "All" {
			return nil, false, apierrors.NewBadRequest(fmt.Sprintf("unsupported dryRun value %q", d))
		}
		dryRun = true
	}
	return opts, dryRun, nil
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request, ri *RequestInfo, st *registry.Store) {
	opts, dryRun, err := deleteOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if st.Info.GVR() == registry.NamespacesGVR && registry.ProtectedNamespaces[ri.Name] {
		writeError(w, apierrors.NewForbidden(st.Info.GroupResource(), ri.Name, fmt.Errorf("this namespace may not be deleted")))
		return
	}
	obj, _, err := st.Delete(r.Context(), ri.Namespace, ri.Name, opts, dryRun)
	if err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, r, st, http.StatusOK, obj)
}

// deleteCollection deletes every object matching the selectors.
func (h *Handler) deleteCollection(w http.ResponseWriter, r *http.Request, ri *RequestInfo, st *registry.Store) {
	opts, dryRun, err := deleteOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	sel, err := h.selectors(r, st)
	if err != nil {
		writeError(w, err)
		return
	}
	items, rev, err := st.List(r.Context(), ri.Namespace, sel)
	if err != nil {
		writeError(w, err)
		return
	}
	var deleted []runtime.Object
	for _, obj := range items {
		m, _ := metaOf(obj)
		out, _, err := st.Delete(r.Context(), m.GetNamespace(), m.GetName(), opts, dryRun)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			writeError(w, err)
			return
		}
		deleted = append(deleted, out)
	}
	writeList(w, r, st, deleted, metav1.ListMeta{ResourceVersion: strconv.FormatInt(rev, 10)})
}
