package tables

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// eventPrinter prints core/v1 Events, the ones `kubectl get events` and
// `kubectl describe` read. Note the column order: upstream moved the wide
// columns (Subobject, Source) between Object and Message, and put Name last.
var eventPrinter = typed[corev1.Event]{
	columns: []metav1.TableColumnDefinition{
		column("Last Seen", "string", corev1.Event{}.SwaggerDoc()["lastTimestamp"]),
		column("Type", "string", corev1.Event{}.SwaggerDoc()["type"]),
		column("Reason", "string", corev1.Event{}.SwaggerDoc()["reason"]),
		column("Object", "string", corev1.Event{}.SwaggerDoc()["involvedObject"]),
		wide("Subobject", "string", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"]),
		wide("Source", "string", corev1.Event{}.SwaggerDoc()["source"]),
		column("Message", "string", corev1.Event{}.SwaggerDoc()["message"]),
		wide("First Seen", "string", corev1.Event{}.SwaggerDoc()["firstTimestamp"]),
		wide("Count", "string", corev1.Event{}.SwaggerDoc()["count"]),
		{Name: "Name", Type: "string", Format: "name", Priority: 1, Description: objectMetaDoc["name"]},
	},
	cells: eventCells,
}

// eventCells copes with both event shapes: the old core/v1 one
// (firstTimestamp, lastTimestamp, count, source) and the newer
// events.k8s.io one stored through core/v1 (eventTime, series,
// reportingController).
func eventCells(e *corev1.Event) []interface{} {
	first := since(e.FirstTimestamp)
	if e.FirstTimestamp.IsZero() {
		first = sinceMicro(e.EventTime)
	}
	last := since(e.LastTimestamp)
	if e.LastTimestamp.IsZero() {
		last = first
	}
	count := e.Count
	if e.Series != nil {
		last = sinceMicro(e.Series.LastObservedTime)
		count = e.Series.Count
	} else if count == 0 {
		count = 1 // singleton events of the new API carry no count
	}

	object := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		object = fmt.Sprintf("%s/%s", object, e.InvolvedObject.Name)
	}

	return []interface{}{
		last,
		e.Type,
		e.Reason,
		object,
		e.InvolvedObject.FieldPath,
		eventSource(e),
		strings.TrimSpace(e.Message),
		first,
		int64(count),
		e.Name,
	}
}

// eventSource is "component, host", falling back to the reporting
// controller and instance of new-style events.
func eventSource(e *corev1.Event) string {
	component := firstNonEmpty(e.Source.Component, e.ReportingController)
	host := firstNonEmpty(e.Source.Host, e.ReportingInstance)
	if host == "" {
		return component
	}
	return component + ", " + host
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
