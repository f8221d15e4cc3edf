package tables

import (
	"encoding/json"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// Build makes a metav1.Table (TypeMeta Kind "Table", APIVersion "meta.k8s.io/v1") from objects. Each row's
// Object is a RawExtension holding the JSON of a metav1.PartialObjectMetadata (apiVersion
// "meta.k8s.io/v1", kind "PartialObjectMetadata", with the object's full metadata) when includeObject is
// "" or Metadata, the full object JSON when Object, and nothing when None. listMeta (resourceVersion,
// continue) is copied onto the table.
//
// Why each row carries metadata: kubectl uses it to print the NAMESPACE
// column of `get -A`, the labels of `--show-labels` and `-L`, and to sort.
// `--sort-by` asks for includeObject=Object because it sorts on any field.
// A watch sends each event's object as a one-row table built here too.
func Build(p Printer, objs []runtime.Object, includeObject metav1.IncludeObjectPolicy, listMeta metav1.ListMeta) (*metav1.Table, error) {
	switch includeObject {
	case "", metav1.IncludeMetadata, metav1.IncludeObject, metav1.IncludeNone:
	default:
		// Same wording as the real server's 400 Bad Request.
		return nil, fmt.Errorf("unrecognized includeObject value: %q", includeObject)
	}

	table := &metav1.Table{
		TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
		ListMeta:          listMeta,
		ColumnDefinitions: p.Columns(),
		Rows:              make([]metav1.TableRow, 0, len(objs)),
	}
	for i, obj := range objs {
		cells, err := p.Cells(obj)
		if err != nil {
			return nil, fmt.Errorf("table row %d: %w", i, err)
		}
		raw, err := rowObject(obj, includeObject)
		if err != nil {
			return nil, fmt.Errorf("table row %d: %w", i, err)
		}
		row := metav1.TableRow{Cells: cells, Object: runtime.RawExtension{Raw: raw}}
		if c, ok := p.(rowConditioner); ok {
			row.Conditions = c.rowConditions(obj)
		}
		table.Rows = append(table.Rows, row)
	}
	return table, nil
}

// rowConditioner is implemented by printers whose rows carry conditions
// (upstream marks finished pods with a "Completed" row condition).
type rowConditioner interface {
	rowConditions(obj runtime.Object) []metav1.TableRowCondition
}

// rowObject encodes what the client asked to get alongside each row.
func rowObject(obj runtime.Object, include metav1.IncludeObjectPolicy) ([]byte, error) {
	switch include {
	case metav1.IncludeNone:
		return nil, nil
	case metav1.IncludeObject:
		return json.Marshal(withKind(obj))
	default:
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, fmt.Errorf("object metadata of %T: %w", obj, err)
		}
		partial := meta.AsPartialObjectMetadata(m)
		partial.TypeMeta = metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadata"}
		return json.Marshal(partial)
	}
}

// kinds knows the Go type -> apiVersion/kind mapping of every built-in type
// (and of CRDs), so that a full object embedded in a row says what it is
// even when it was decoded without its TypeMeta.
var kinds = func() *runtime.Scheme {
	s := runtime.NewScheme()
	// Both only register types; they cannot fail on a fresh scheme.
	_ = clientgoscheme.AddToScheme(s)
	_ = apiextensionsv1.AddToScheme(s)
	return s
}()

// withKind returns obj with apiVersion and kind set, copying it rather than
// changing the caller's object.
func withKind(obj runtime.Object) runtime.Object {
	if !obj.GetObjectKind().GroupVersionKind().Empty() {
		return obj
	}
	gvks, _, err := kinds.ObjectKinds(obj)
	if err != nil || len(gvks) == 0 {
		return obj
	}
	out := obj.DeepCopyObject()
	out.GetObjectKind().SetGroupVersionKind(gvks[0])
	return out
}
