package registry

// Managed fields are how server-side apply knows who owns which field:
// every write records, per manager ("kubectl", "kube-controller-manager", ...),
// the set of fields it set. An apply that would change a field someone else
// owns is a conflict (409) unless forced. apimachinery's managedfields package
// does the bookkeeping; we only give it a type converter (the schema of each
// kind) and a place in the write path.

import (
	"fmt"

	extapply "k8s.io/apiextensions-apiserver/pkg/client/applyconfiguration"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// builtinTypes is the schema of every built-in kind, compiled into client-go
// (k8s.io/api kinds) and apiextensions (CustomResourceDefinition).
var (
	builtinTypes   = applyconfigurations.NewTypeConverter(Scheme)
	extensionTypes = extapply.NewTypeConverter(Scheme)
)

func typesFor(gvk schema.GroupVersionKind) managedfields.TypeConverter {
	if gvk.Group == "apiextensions.k8s.io" {
		return extensionTypes
	}
	return builtinTypes
}

// FieldManager holds one managedfields.FieldManager per writable part.
type FieldManager struct {
	main, status, scale *managedfields.FieldManager
}

// NewFieldManager builds the field managers of a resource.
func NewFieldManager(info *Info) (*FieldManager, error) {
	gv := info.GVK.GroupVersion()
	// Whoever writes the main resource does not own status, and vice versa:
	// the reset filters keep each manager's field set to its own part.
	statusPath := fieldpath.NewSet(fieldpath.MakePathOrDie("status"))
	mainReset := map[fieldpath.APIVersion]fieldpath.Filter{}
	if info.Status {
		mainReset[fieldpath.APIVersion(gv.String())] = fieldpath.NewExcludeSetFilter(statusPath)
	}
	var (
		main, status, scale *managedfields.FieldManager
		err                 error
	)
	if info.IsCustom() {
		tc := managedfields.NewDeducedTypeConverter()
		conv := unstructuredConverter{}
		main, err = managedfields.NewDefaultCRDFieldManager(tc, conv, noDefaults{}, conv, info.GVK, gv, "", mainReset)
		if err == nil && info.Status {
			status, err = managedfields.NewDefaultCRDFieldManager(tc, conv, noDefaults{}, conv, info.GVK, gv, "status", nil)
		}
	} else {
		tc := typesFor(info.GVK)
		main, err = managedfields.NewDefaultFieldManager(tc, Scheme, noDefaults{}, Scheme, info.GVK, gv, "", mainReset)
		if err == nil && info.Status {
			status, err = managedfields.NewDefaultFieldManager(tc, Scheme, noDefaults{}, Scheme, info.GVK, gv, "status", nil)
		}
		// Writes through /scale are recorded as the "scale" subresource, so
		// an apply that fights `kubectl scale` (or an autoscaler) says so.
		if err == nil && info.Scale != nil {
			scale, err = managedfields.NewDefaultFieldManager(tc, Scheme, noDefaults{}, Scheme, info.GVK, gv, "scale", mainReset)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("field manager for %s: %w", info.GVK, err)
	}
	return &FieldManager{main: main, status: status, scale: scale}, nil
}

func (f *FieldManager) forSub(sub string) *managedfields.FieldManager {
	if sub == "status" && f.status != nil {
		return f.status
	}
	if sub == "scale" && f.scale != nil {
		return f.scale
	}
	return f.main
}

// noDefaults: defaulting happens in the store, after the merge.
type noDefaults struct{}

func (noDefaults) Default(runtime.Object) {}

// unstructuredConverter serves custom resources, which have one version and
// need no conversion.
type unstructuredConverter struct{}

func (unstructuredConverter) Convert(in, out, context interface{}) error {
	return fmt.Errorf("unstructured conversion not supported")
}

func (unstructuredConverter) ConvertToVersion(in runtime.Object, gv runtime.GroupVersioner) (runtime.Object, error) {
	return in, nil
}

func (unstructuredConverter) ConvertFieldLabel(gvk schema.GroupVersionKind, label, value string) (string, string, error) {
	return label, value, nil
}

func (unstructuredConverter) New(kind schema.GroupVersionKind) (runtime.Object, error) {
	u := &unstructured.Unstructured{Object: map[string]interface{}{}}
	u.SetGroupVersionKind(kind)
	return u, nil
}
