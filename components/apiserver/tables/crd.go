package tables

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/jsonpath"
)

// ForCustomResource builds a printer from a CRD version's additionalPrinterColumns (JSONPath, evaluated with
// k8s.io/client-go/util/jsonpath against the unstructured object) — always starting with "Name", and with
// an "Age" column when the CRD lists none, like the real apiextensions-apiserver.
//
// A CRD author writes, per version:
//
//	additionalPrinterColumns:
//	- name: Replicas
//	  type: integer
//	  jsonPath: .spec.replicas
//
// and `kubectl get` shows a REPLICAS column; no client changes needed.
func ForCustomResource(cols []apiextensionsv1.CustomResourceColumnDefinition) (Printer, error) {
	if len(cols) == 0 {
		cols = []apiextensionsv1.CustomResourceColumnDefinition{
			{Name: "Age", Type: "date", Description: objectMetaDoc["creationTimestamp"], JSONPath: ".metadata.creationTimestamp"},
		}
	}
	p := &crdPrinter{columns: []metav1.TableColumnDefinition{nameColumn()}}
	for _, col := range cols {
		path := jsonpath.New(col.Name)
		if err := path.Parse("{" + col.JSONPath + "}"); err != nil {
			return nil, fmt.Errorf("printer column %q: jsonPath %q: %w", col.Name, col.JSONPath, err)
		}
		// A missing field is an empty cell, not an error: not every object
		// has every status field yet.
		path.AllowMissingKeys(true)

		description := col.Description
		if description == "" {
			description = "Custom resource definition column (in JSONPath format): " + col.JSONPath
		}
		p.paths = append(p.paths, path)
		p.columns = append(p.columns, metav1.TableColumnDefinition{
			Name:        col.Name,
			Type:        col.Type,
			Format:      col.Format,
			Description: description,
			Priority:    col.Priority,
		})
	}
	return p, nil
}

type crdPrinter struct {
	columns []metav1.TableColumnDefinition // Name, then one per path
	paths   []*jsonpath.JSONPath
}

func (p *crdPrinter) Columns() []metav1.TableColumnDefinition {
	return append([]metav1.TableColumnDefinition(nil), p.columns...)
}

func (p *crdPrinter) Cells(obj runtime.Object) ([]interface{}, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("print custom resource %T: %w", obj, err)
	}
	content, err := unstructuredContent(obj)
	if err != nil {
		return nil, err
	}

	cells := make([]interface{}, 0, len(p.columns))
	cells = append(cells, m.GetName())
	var buf bytes.Buffer
	for i, path := range p.paths {
		typ := p.columns[i+1].Type
		results, err := path.FindResults(content)
		if err != nil || len(results) == 0 || len(results[0]) == 0 {
			cells = append(cells, nil) // kubectl prints <none>
			continue
		}
		// Printer column paths are simple, so the first result is the value.
		value := results[0][0].Interface()
		if typ == "string" {
			// Strings use the JSONPath printer, so a list or map still
			// shows up (as JSON) in a string column.
			buf.Reset()
			if err := path.PrintResults(&buf, []reflect.Value{reflect.ValueOf(value)}); err != nil {
				cells = append(cells, nil)
				continue
			}
			cells = append(cells, buf.String())
			continue
		}
		cells = append(cells, typedCell(typ, value))
	}
	return cells, nil
}

func unstructuredContent(obj runtime.Object) (map[string]interface{}, error) {
	if u, ok := obj.(runtime.Unstructured); ok {
		return u.UnstructuredContent(), nil
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("print custom resource %T: %w", obj, err)
	}
	return content, nil
}

// typedCell converts a JSON value to the cell type the column declares; a
// value of the wrong type becomes an empty cell, as upstream does.
func typedCell(typ string, value interface{}) interface{} {
	switch typ {
	case "integer":
		switch v := value.(type) {
		case int64:
			return v
		case float64:
			return int64(v)
		case json.Number:
			if i, err := v.Int64(); err == nil {
				return i
			}
		}
	case "number":
		switch v := value.(type) {
		case int64:
			return float64(v)
		case float64:
			return v
		case json.Number:
			if f, err := v.Float64(); err == nil {
				return f
			}
		}
	case "boolean":
		if b, ok := value.(bool); ok {
			return b
		}
	case "date":
		// A date column holds a timestamp; the cell is how long ago it was,
		// like every AGE column.
		if s, ok := value.(string); ok {
			var t metav1.Time
			if err := t.UnmarshalQueryParameter(s); err != nil {
				return "<invalid>"
			}
			return since(t)
		}
	}
	return nil
}
