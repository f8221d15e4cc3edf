package rest

import (
	"encoding/json"
	"fmt"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"

	"github.com/kubelab/kubelab/components/apiserver/registry"
)

// The four PATCH content types Kubernetes speaks.
const (
	patchJSON      = "application/json-patch+json"            // RFC 6902 operations
	patchMerge     = "application/merge-patch+json"           // RFC 7386: null deletes
	patchStrategic = "application/strategic-merge-patch+json" // lists merged by key (kubectl apply)
	patchApply     = "application/apply-patch+yaml"           // server-side apply
)

// patch serves PATCH on an object or its status: read, apply the patch to
// the JSON, decode, and store through the normal update path (with its
// defaults, validation and conflict retries).
func (h *Handler) patch(w http.ResponseWriter, r *http.Request, ri *RequestInfo, st *registry.Store, sub string) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	pt := mediaType(r)
	opts, err := writeOptions(r, sub)
	if err != nil {
		writeError(w, err)
		return
	}
	validation := r.URL.Query().Get("fieldValidation")
	var warnings []string
	var fn registry.UpdateFunc
	switch pt {
	case patchApply:
		if r.URL.Query().Get("fieldManager") == "" {
			writeError(w, apierrors.NewBadRequest("PATCH /apply: fieldManager is required for apply requests"))
			return
		}
		opts.Apply = true
		applied, err := decodeApply(body, st.Info)
		if err != nil {
			writeError(w, err)
			return
		}
		if m, err := meta.Accessor(applied); err == nil {
			if m.GetName() != ri.Name {
				writeError(w, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), ri.Name)))
				return
			}
			if st.Info.Namespaced && m.GetNamespace() == "" {
				m.SetNamespace(ri.Namespace)
			}
		}
		fn = func(cur runtime.Object) (runtime.Object, error) {
			out, err := st.Apply(cur, applied, opts)
			if err == nil && cur != nil {
				unlessPatched(out, cur) // retry on conflicts, like other patches
			}
			return out, err
		}
	case patchJSON, patchMerge, patchStrategic:
		if pt == patchStrategic && st.Info.IsCustom() {
			writeError(w, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", st.Info.GroupResource(), ri.Name,
				"strategic merge patch is not supported for custom resources: use --type=merge or --type=json", 0, false))
			return
		}
		fn = func(cur runtime.Object) (runtime.Object, error) {
			if cur == nil {
				return nil, apierrors.NewNotFound(st.Info.GroupResource(), ri.Name)
			}
			curJSON, err := json.Marshal(cur)
			if err != nil {
				return nil, err
			}
			patched, err := applyPatch(pt, curJSON, body, st.Info)
			if err != nil {
				return nil, err
			}
			obj, warns, err := decodeJSON(patched, st.Info, st.Info.GVK, validation)
			if err != nil {
				return nil, err
			}
			warnings = warns
			unlessPatched(obj, cur)
			return obj, nil
		}
	default:
		writeError(w, unsupportedMediaType(pt))
		return
	}
	out, created, err := st.Update(r.Context(), ri.Namespace, ri.Name, fn, opts)
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

// unlessPatched drops the resourceVersion a patch merely carried over from
// the current object, so the update retries on conflicts instead of failing:
// only a patch that names a resourceVersion itself is conditional.
func unlessPatched(obj, cur runtime.Object) {
	om, err1 := meta.Accessor(obj)
	cm, err2 := meta.Accessor(cur)
	if err1 == nil && err2 == nil && om.GetResourceVersion() == cm.GetResourceVersion() {
		om.SetResourceVersion("")
	}
}

// applyPatch applies one of the three JSON patch kinds to an object's JSON.
func applyPatch(pt string, cur, patch []byte, info *registry.Info) ([]byte, error) {
	switch pt {
	case patchJSON:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid JSON patch: %v", err))
		}
		out, err := p.Apply(cur)
		if err != nil {
			// Like upstream: an Invalid status naming no object, with the
			// patch library's reason as the cause kubectl prints.
			return nil, &apierrors.StatusError{ErrStatus: metav1.Status{
				Status: metav1.StatusFailure, Code: http.StatusUnprocessableEntity, Reason: metav1.StatusReasonInvalid,
				Message: fmt.Sprintf("the server rejected our request due to an error in our request: %v", err),
				Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Message: err.Error()}}},
			}}
		}
		return out, nil
	case patchMerge:
		out, err := jsonpatch.MergePatch(cur, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid merge patch: %v", err))
		}
		return out, nil
	default:
		out, err := strategicpatch.StrategicMergePatch(cur, patch, info.New())
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid strategic merge patch: %v", err))
		}
		return out, nil
	}
}

// decodeApply reads a server-side apply body (YAML or JSON) as the partial
// object it is: only the fields the applier cares about.
func decodeApply(body []byte, info *registry.Info) (runtime.Object, error) {
	j, err := yaml.YAMLToJSON(body)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("decoding apply body: %v", err))
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("decoding apply body: %v", err))
	}
	if u.GroupVersionKind() != info.GVK {
		return nil, kindMismatch(u.GroupVersionKind(), info.GVK)
	}
	return u, nil
}
