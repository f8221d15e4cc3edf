package tables

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestForUnknownKindIsDefault(t *testing.T) {
	for _, gvk := range []schema.GroupVersionKind{
		apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"),
		{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"},
		{Group: "example.com", Version: "v1", Kind: "Widget"},
	} {
		t.Run(gvk.Kind, func(t *testing.T) {
			assertColumns(t, For(gvk), "Name:string", "Created At:date")
		})
	}
}

// Every built-in printer must produce exactly one cell per column, even
// for an empty object, and must not panic on one.
func TestEveryPrinterFillsEveryColumn(t *testing.T) {
	for gvk, p := range builtin {
		t.Run(gvk.String(), func(t *testing.T) {
			obj, err := kinds.New(gvk)
			if err != nil {
				t.Fatalf("new %v: %v", gvk, err)
			}
			cells, err := p.Cells(obj)
			if err != nil {
				t.Fatalf("Cells: %v", err)
			}
			if len(cells) != len(p.Columns()) {
				t.Errorf("%d cells for %d columns", len(cells), len(p.Columns()))
			}
		})
	}
}

func TestTypedPrinterInputs(t *testing.T) {
	p := For(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	t.Run("unstructured built-in", func(t *testing.T) {
		u := &unstructured.Unstructured{Object: map[string]interface{}{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]interface{}{"name": "settings", "creationTimestamp": ago(time.Minute).UTC().Format(time.RFC3339)},
			"data":     map[string]interface{}{"a": "1"},
		}}
		assertCells(t, p, u, "settings", int64(1), "60s")
	})
	t.Run("wrong type", func(t *testing.T) {
		if _, err := p.Cells(&corev1.Pod{}); err == nil || !strings.Contains(err.Error(), "*v1.Pod") {
			t.Errorf("err = %v, want an error naming *v1.Pod", err)
		}
	})
	t.Run("nil", func(t *testing.T) {
		if _, err := p.Cells((*corev1.ConfigMap)(nil)); err == nil {
			t.Error("want an error for a nil object")
		}
	})
}

func TestBuild(t *testing.T) {
	p := For(corev1.SchemeGroupVersion.WithKind("Pod"))
	mk := func(name string, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}, ResourceVersion: "42", CreationTimestamp: ago(time.Minute)},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27"}}},
			Status:     corev1.PodStatus{Phase: phase},
		}
	}
	objs := []runtime.Object{mk("a", corev1.PodRunning), mk("b", corev1.PodSucceeded)}
	listMeta := metav1.ListMeta{ResourceVersion: "1234", Continue: "next"}

	tests := []struct {
		include  metav1.IncludeObjectPolicy
		wantKind string // kind of the embedded row object, "" for none
	}{
		{"", "PartialObjectMetadata"},
		{metav1.IncludeMetadata, "PartialObjectMetadata"},
		{metav1.IncludeObject, "Pod"},
		{metav1.IncludeNone, ""},
	}
	for _, tt := range tests {
		t.Run("include="+string(tt.include), func(t *testing.T) {
			table, err := Build(p, objs, tt.include, listMeta)
			if err != nil {
				t.Fatal(err)
			}
			if table.Kind != "Table" || table.APIVersion != "meta.k8s.io/v1" {
				t.Errorf("type = %s %s", table.APIVersion, table.Kind)
			}
			if table.ResourceVersion != "1234" || table.Continue != "next" {
				t.Errorf("list meta = %+v", table.ListMeta)
			}
			if len(table.ColumnDefinitions) != 9 || len(table.Rows) != 2 {
				t.Fatalf("%d columns, %d rows", len(table.ColumnDefinitions), len(table.Rows))
			}
			if got := table.Rows[1].Cells[2]; got != "Succeeded" {
				t.Errorf("status cell = %v", got)
			}
			if c := table.Rows[1].Conditions; len(c) != 1 || c[0].Type != metav1.RowCompleted {
				t.Errorf("conditions of a succeeded pod = %+v", c)
			}
			raw := table.Rows[0].Object.Raw
			if tt.wantKind == "" {
				if raw != nil {
					t.Errorf("object = %s, want none", raw)
				}
				return
			}
			var got struct {
				APIVersion string            `json:"apiVersion"`
				Kind       string            `json:"kind"`
				Metadata   metav1.ObjectMeta `json:"metadata"`
				Spec       *json.RawMessage  `json:"spec"`
			}
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("row object %s: %v", raw, err)
			}
			if got.Kind != tt.wantKind || got.Metadata.Name != "a" || got.Metadata.Labels["app"] != "web" || got.Metadata.ResourceVersion != "42" {
				t.Errorf("row object = %s", raw)
			}
			if wantSpec := tt.wantKind == "Pod"; (got.Spec != nil) != wantSpec {
				t.Errorf("row object has spec = %v, want %v", got.Spec != nil, wantSpec)
			}
		})
	}

	t.Run("the caller's object keeps its empty TypeMeta", func(t *testing.T) {
		if objs[0].GetObjectKind().GroupVersionKind().Kind != "" {
			t.Error("Build changed the caller's object")
		}
	})
	t.Run("empty list has no rows, not null", func(t *testing.T) {
		table, err := Build(p, nil, "", metav1.ListMeta{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(table)
		if !strings.Contains(string(b), `"rows":[]`) {
			t.Errorf("json = %s", b)
		}
	})
	t.Run("unknown includeObject", func(t *testing.T) {
		_, err := Build(p, objs, "Everything", listMeta)
		if err == nil || err.Error() != `unrecognized includeObject value: "Everything"` {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("printer error names the row", func(t *testing.T) {
		_, err := Build(p, []runtime.Object{&corev1.Node{}}, "", listMeta)
		if err == nil || !strings.Contains(err.Error(), "table row 0") {
			t.Errorf("err = %v", err)
		}
	})
}
