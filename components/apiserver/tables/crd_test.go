package tables

import (
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func widget() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "example.com/v1",
		"kind":       "Widget",
		"metadata": map[string]interface{}{
			"name":              "gizmo",
			"namespace":         "default",
			"creationTimestamp": ago(2 * time.Hour).UTC().Format(time.RFC3339),
		},
		"spec": map[string]interface{}{
			"replicas": int64(3),
			"ratio":    0.5,
			"enabled":  true,
			"ports":    []interface{}{int64(80), int64(443)},
			"color":    "blue",
		},
		"status": map[string]interface{}{
			"lastSync": ago(30 * time.Second).UTC().Format(time.RFC3339),
		},
	}}
}

func TestForCustomResource(t *testing.T) {
	t.Run("no columns: Name and Age", func(t *testing.T) {
		p, err := ForCustomResource(nil)
		if err != nil {
			t.Fatal(err)
		}
		assertColumns(t, p, "Name:string", "Age:date")
		assertCells(t, p, widget(), "gizmo", "120m")
	})

	t.Run("declared columns", func(t *testing.T) {
		p, err := ForCustomResource([]apiextensionsv1.CustomResourceColumnDefinition{
			{Name: "Replicas", Type: "integer", JSONPath: ".spec.replicas"},
			{Name: "Ratio", Type: "number", JSONPath: ".spec.ratio"},
			{Name: "Enabled", Type: "boolean", JSONPath: ".spec.enabled"},
			{Name: "Color", Type: "string", JSONPath: ".spec.color", Description: "Paint."},
			{Name: "Ports", Type: "string", JSONPath: ".spec.ports", Priority: 1},
			{Name: "Synced", Type: "date", JSONPath: ".status.lastSync"},
			{Name: "Missing", Type: "string", JSONPath: ".status.nothing"},
			{Name: "Wrong", Type: "integer", JSONPath: ".spec.color"},
			{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp"},
		})
		if err != nil {
			t.Fatal(err)
		}
		assertColumns(t, p, "Name:string", "Replicas:integer", "Ratio:number", "Enabled:boolean", "Color:string",
			"Ports:string:wide", "Synced:date", "Missing:string", "Wrong:integer", "Age:date")
		if d := p.Columns()[4].Description; d != "Paint." {
			t.Errorf("description = %q", d)
		}
		if d := p.Columns()[1].Description; d != "Custom resource definition column (in JSONPath format): .spec.replicas" {
			t.Errorf("default description = %q", d)
		}
		assertCells(t, p, widget(), "gizmo", int64(3), 0.5, true, "blue", "[80,443]", "30s", nil, nil, "120m")
	})

	t.Run("bad json path", func(t *testing.T) {
		if _, err := ForCustomResource([]apiextensionsv1.CustomResourceColumnDefinition{{Name: "X", Type: "string", JSONPath: ".spec[["}}); err == nil {
			t.Error("want an error for an unparsable jsonPath")
		}
	})

	t.Run("invalid date", func(t *testing.T) {
		p, err := ForCustomResource([]apiextensionsv1.CustomResourceColumnDefinition{{Name: "When", Type: "date", JSONPath: ".spec.color"}})
		if err != nil {
			t.Fatal(err)
		}
		assertCells(t, p, widget(), "gizmo", "<invalid>")
	})
}
