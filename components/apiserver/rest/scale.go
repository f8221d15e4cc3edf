package rest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubelab/kubelab/components/apiserver/registry"
)

// scale serves the /scale subresource: a small autoscaling/v1 Scale view
// (spec.replicas, status.replicas, status.selector) of any scalable object,
// which is what `kubectl scale` and autoscalers use so they need not know
// the object's kind.
func (h *Handler) scale(w http.ResponseWriter, r *http.Request, ri *RequestInfo, st *registry.Store) {
	switch ri.Verb {
	case "get":
		obj, err := st.Get(r.Context(), ri.Namespace, ri.Name)
		if err != nil {
			writeError(w, err)
			return
		}
		s, err := toScale(obj, st.Info.Scale)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, s)
	case "update", "patch":
		body, err := readBody(r)
		if err != nil {
			writeError(w, err)
			return
		}
		opts, err := writeOptions(r, "scale")
		if err != nil {
			writeError(w, err)
			return
		}
		out, _, err := st.Update(r.Context(), ri.Namespace, ri.Name, func(cur runtime.Object) (runtime.Object, error) {
			if cur == nil {
				return nil, apierrors.NewNotFound(st.Info.GroupResource(), ri.Name)
			}
			old, err := toScale(cur, st.Info.Scale)
			if err != nil {
				return nil, err
			}
			want, err := desiredScale(r, ri.Verb, body, old, st.Info)
			if err != nil {
				return nil, err
			}
			if want.Spec.Replicas < 0 {
				return nil, apierrors.NewInvalid(autoscalingv1.SchemeGroupVersion.WithKind("Scale").GroupKind(), ri.Name,
					field.ErrorList{field.Invalid(field.NewPath("spec", "replicas"), want.Spec.Replicas, "must be greater than or equal to 0")})
			}
			if err := setPath(cur, st.Info.Scale.SpecReplicas, int64(want.Spec.Replicas)); err != nil {
				return nil, err
			}
			m, _ := metaOf(cur)
			if want.ResourceVersion != "" && want.ResourceVersion != old.ResourceVersion {
				m.SetResourceVersion(want.ResourceVersion) // a stale Scale is a conflict
			} else {
				m.SetResourceVersion("")
			}
			return cur, nil
		}, opts)
		if err != nil {
			writeError(w, err)
			return
		}
		s, err := toScale(out, st.Info.Scale)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, s)
	default:
		writeError(w, apierrors.NewMethodNotSupported(st.Info.GroupResource(), r.Method))
	}
}

// desiredScale is the Scale the request asks for: the body of a PUT, or the
// current Scale with the patch applied.
func desiredScale(r *http.Request, verb string, body []byte, old *autoscalingv1.Scale, info *registry.Info) (*autoscalingv1.Scale, error) {
	scaleInfo := &registry.Info{GVK: registry.ScaleGVK, New: func() runtime.Object { return &autoscalingv1.Scale{} }}
	if verb == "update" {
		obj, _, err := decodeObject(r, body, scaleInfo, registry.ScaleGVK)
		if err != nil {
			return nil, err
		}
		return obj.(*autoscalingv1.Scale), nil
	}
	cur, err := json.Marshal(old)
	if err != nil {
		return nil, err
	}
	pt := mediaType(r)
	if pt == patchApply {
		return nil, unsupportedMediaType(pt)
	}
	patched, err := applyPatch(pt, cur, body, scaleInfo)
	if err != nil {
		return nil, err
	}
	s := &autoscalingv1.Scale{}
	if err := json.Unmarshal(patched, s); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("decoding patched Scale: %v", err))
	}
	return s, nil
}

// toScale reads a Scale out of an object through the resource's scale paths.
func toScale(obj runtime.Object, paths *registry.ScalePaths) (*autoscalingv1.Scale, error) {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	m, _ := metaOf(obj)
	s := &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp()},
	}
	if v, ok, _ := unstructured.NestedFieldNoCopy(u, splitDots(paths.SpecReplicas)...); ok {
		s.Spec.Replicas = int32(toInt(v))
	}
	if v, ok, _ := unstructured.NestedFieldNoCopy(u, splitDots(paths.StatusReplicas)...); ok {
		s.Status.Replicas = int32(toInt(v))
	}
	if paths.LabelSelector != "" {
		if v, ok, _ := unstructured.NestedFieldNoCopy(u, splitDots(paths.LabelSelector)...); ok {
			switch sel := v.(type) {
			case string:
				s.Status.Selector = sel
			case map[string]interface{}:
				ls := &metav1.LabelSelector{}
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(sel, ls); err == nil {
					if parsed, err := metav1.LabelSelectorAsSelector(ls); err == nil {
						s.Status.Selector = parsed.String()
					}
				}
			}
		}
	}
	return s, nil
}

// setPath sets an integer at a dotted path of a typed or unstructured object.
func setPath(obj runtime.Object, path string, v int64) error {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return unstructured.SetNestedField(u.Object, v, splitDots(path)...)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	if err := unstructured.SetNestedField(m, v, splitDots(path)...); err != nil {
		return err
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(m, obj)
}

func splitDots(p string) []string { return strings.Split(strings.TrimPrefix(p, "."), ".") }

func toInt(v interface{}) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int32:
		return int64(n)
	case int:
		return int64(n)
	case float64:
		return int64(n)
	}
	return 0
}
