package rest

import (
	"mime"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubelab/kubelab/components/apiserver/registry"
	"github.com/kubelab/kubelab/components/apiserver/tables"
)

// shape is the form a client asked for in its Accept header.
type shape int

const (
	shapeObject   shape = iota // the object itself (JSON)
	shapeTable                 // meta.k8s.io/v1 Table: what kubectl get prints
	shapeMetadata              // meta.k8s.io/v1 PartialObjectMetadata(List): metadata-only clients
)

// acceptShape reads `Accept: application/json;as=Table;v=v1;g=meta.k8s.io, ...`.
// Clients list what they can take in order of preference; the first form we
// serve wins, and plain JSON is always possible.
func acceptShape(r *http.Request) shape {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if params["as"] == "" {
			if mt == contentJSON || mt == "*/*" || mt == contentProtobuf || mt == "application/*" {
				return shapeObject
			}
			continue
		}
		if params["g"] != "meta.k8s.io" || params["v"] != "v1" {
			continue
		}
		switch params["as"] {
		case "Table":
			return shapeTable
		case "PartialObjectMetadata", "PartialObjectMetadataList":
			return shapeMetadata
		}
	}
	return shapeObject
}

// writeObject answers with one object in the asked shape.
func writeObject(w http.ResponseWriter, r *http.Request, st *registry.Store, code int, obj runtime.Object) {
	switch acceptShape(r) {
	case shapeTable:
		t, err := buildTable(r, st, []runtime.Object{obj}, metav1.ListMeta{})
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, code, t)
	case shapeMetadata:
		writeJSON(w, code, partialMetadata(obj))
	default:
		writeJSON(w, code, obj)
	}
}

// writeList answers a list in the asked shape.
func writeList(w http.ResponseWriter, r *http.Request, st *registry.Store, items []runtime.Object, lm metav1.ListMeta) {
	switch acceptShape(r) {
	case shapeTable:
		t, err := buildTable(r, st, items, lm)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, t)
	case shapeMetadata:
		list := &metav1.PartialObjectMetadataList{ListMeta: lm, Items: make([]metav1.PartialObjectMetadata, 0, len(items))}
		list.Kind, list.APIVersion = "PartialObjectMetadataList", "meta.k8s.io/v1"
		for _, obj := range items {
			list.Items = append(list.Items, *partialMetadata(obj))
		}
		writeJSON(w, http.StatusOK, list)
	default:
		list := st.Info.NewListObject()
		if err := meta.SetList(list, items); err != nil {
			writeError(w, err)
			return
		}
		if la, err := meta.ListAccessor(list); err == nil {
			la.SetResourceVersion(lm.ResourceVersion)
			la.SetContinue(lm.Continue)
		}
		writeJSON(w, http.StatusOK, list)
	}
}

func buildTable(r *http.Request, st *registry.Store, items []runtime.Object, lm metav1.ListMeta) (*metav1.Table, error) {
	include := metav1.IncludeObjectPolicy(r.URL.Query().Get("includeObject"))
	p := st.Info.Printer
	if p == nil {
		p = tables.For(st.Info.GVK)
	}
	return tables.Build(p, items, include, lm)
}

func partialMetadata(obj runtime.Object) *metav1.PartialObjectMetadata {
	out := &metav1.PartialObjectMetadata{}
	out.Kind, out.APIVersion = "PartialObjectMetadata", "meta.k8s.io/v1"
	if m, err := meta.Accessor(obj); err == nil {
		out.ObjectMeta = metav1.ObjectMeta{
			Name: m.GetName(), GenerateName: m.GetGenerateName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(), Generation: m.GetGeneration(), CreationTimestamp: m.GetCreationTimestamp(),
			DeletionTimestamp: m.GetDeletionTimestamp(), DeletionGracePeriodSeconds: m.GetDeletionGracePeriodSeconds(),
			Labels: m.GetLabels(), Annotations: m.GetAnnotations(), OwnerReferences: m.GetOwnerReferences(),
			Finalizers: m.GetFinalizers(), ManagedFields: m.GetManagedFields(),
		}
	}
	return out
}
