package registry

// An object has three parts that different writers own:
//
//	metadata  - everybody (labels, annotations, finalizers, owner references)
//	spec      - the user: what they want          (bumps metadata.generation)
//	status    - the controllers: what is          (written only through /status)
//
// Splitting them is what lets `kubectl apply` and a controller write the same
// object without undoing each other. These helpers do the split for typed
// objects (by the Go field names every k8s.io/api kind uses) and for custom
// resources (by the top-level JSON keys).

import (
	"reflect"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// copyStatus sets dst's status to src's status.
func copyStatus(dst, src runtime.Object) {
	if du, ok := dst.(*unstructured.Unstructured); ok {
		su := src.(*unstructured.Unstructured)
		if st, ok := su.Object["status"]; ok {
			du.Object["status"] = runtime.DeepCopyJSONValue(st)
		} else {
			delete(du.Object, "status")
		}
		return
	}
	d := reflect.ValueOf(dst).Elem().FieldByName("Status")
	s := reflect.ValueOf(src).Elem().FieldByName("Status")
	if d.IsValid() && s.IsValid() && d.CanSet() {
		d.Set(s)
	}
}

// clearStatus empties an object's status (new objects start without one).
func clearStatus(obj runtime.Object) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		delete(u.Object, "status")
		return
	}
	f := reflect.ValueOf(obj).Elem().FieldByName("Status")
	if f.IsValid() && f.CanSet() {
		f.Set(reflect.Zero(f.Type()))
	}
}

// specEqual reports whether two objects agree on everything but metadata and
// status: the test for bumping metadata.generation.
func specEqual(a, b runtime.Object) bool {
	if au, ok := a.(*unstructured.Unstructured); ok {
		bu, ok := b.(*unstructured.Unstructured)
		if !ok {
			return false
		}
		return equality.Semantic.DeepEqual(withoutMetaStatus(au.Object), withoutMetaStatus(bu.Object))
	}
	av, bv := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	if av.Type() != bv.Type() {
		return false
	}
	for i := 0; i < av.NumField(); i++ {
		switch av.Type().Field(i).Name {
		case "TypeMeta", "ObjectMeta", "Status":
			continue
		}
		if !equality.Semantic.DeepEqual(av.Field(i).Interface(), bv.Field(i).Interface()) {
			return false
		}
	}
	return true
}

func withoutMetaStatus(m map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		switch k {
		case "metadata", "status", "apiVersion", "kind":
			continue
		}
		out[k] = v
	}
	return out
}
