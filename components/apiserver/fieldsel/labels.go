// Package fieldsel is the kube-apiserver's field selector support: the part
// of list and watch that answers `--field-selector spec.nodeName=worker-1`.
//
// Labels are free-form, so any label can be selected on. Fields are not:
// the server only indexes a handful of fields per kind, chosen for the
// controllers that need them (the kubelet watches pods with
// spec.nodeName=<its node>, `kubectl describe` lists events with
// involvedObject.name=<object>). The data flow is:
//
//	?fieldSelector=spec.nodeName=n1,status.phase!=Running
//	  -> Parse(gvk, value)    400 Bad Request for a field this kind does not offer;
//	                          old spellings rewritten (pods: spec.host -> spec.nodeName)
//	  -> for each object: selector.Matches(Fields(obj))
//
// Fields returns a fields.Set, a flat map from field path to its value as a
// string. A field missing from the set reads as "", so `x=` matches objects
// without x and `x!=v` matches them too, exactly like upstream.
//
// The lists of selectable fields and the error wording mirror upstream's
// per-kind AddFieldLabelConversionFunc registrations (k8s.io/kubernetes
// pkg/apis/*/v1/conversion.go) and GetAttrs functions (pkg/registry).
package fieldsel

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// labelRule says which field labels one kind accepts in a selector.
type labelRule struct {
	// labels are accepted as written.
	labels []string
	// aliases are accepted and rewritten to the name Fields uses.
	aliases map[string]string
	// reject builds the kind's own 400 message for anything else.
	reject func(label string) error
}

func notSupported(label string) error { return fmt.Errorf("field label not supported: %s", label) }

// rules lists the kinds that register their own field labels upstream.
// Every other kind, custom resources included, accepts only metadata.name
// and metadata.namespace (runtime.DefaultMetaV1FieldSelectorConversion).
var rules = map[schema.GroupVersionKind]labelRule{
	{Version: "v1", Kind: "Pod"}: {
		labels: []string{
			"metadata.name", "metadata.namespace",
			"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
			// status.podIPs is accepted but never filled in upstream, so
			// it always reads "".
			"status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName",
		},
		// Very old clients said spec.host for the node a pod runs on.
		aliases: map[string]string{"spec.host": "spec.nodeName"},
		reject:  notSupported,
	},
	{Version: "v1", Kind: "Node"}: {
		labels: []string{"metadata.name", "spec.unschedulable"},
		reject: notSupported,
	},
	{Version: "v1", Kind: "ReplicationController"}: {
		labels: []string{"metadata.name", "metadata.namespace", "status.replicas"},
		reject: notSupported,
	},
	{Version: "v1", Kind: "Event"}: {
		labels: []string{
			"metadata.name", "metadata.namespace",
			"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
			"involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
			"reason", "reportingComponent", "source", "type",
		},
		reject: notSupported,
	},
	{Version: "v1", Kind: "Namespace"}: {
		labels: []string{"metadata.name", "status.phase"},
		reject: notSupported,
	},
	{Version: "v1", Kind: "Secret"}: {
		labels: []string{"metadata.name", "metadata.namespace", "type"},
		reject: notSupported,
	},
	{Version: "v1", Kind: "Service"}: {
		labels: []string{"metadata.name", "metadata.namespace", "spec.clusterIP", "spec.type"},
		reject: notSupported,
	},
	{Group: "batch", Version: "v1", Kind: "Job"}: {
		labels: []string{"metadata.name", "metadata.namespace", "status.successful"},
		reject: func(label string) error { return fmt.Errorf("field label %q not supported for batchv1.Job", label) },
	},
	// events.k8s.io/v1 is the same stored Event under newer field names;
	// its labels are rewritten to the core/v1 names Fields produces.
	{Group: "events.k8s.io", Version: "v1", Kind: "Event"}: {
		labels: []string{"metadata.name", "metadata.namespace", "reason", "source", "type"},
		aliases: map[string]string{
			"regarding.kind":            "involvedObject.kind",
			"regarding.namespace":       "involvedObject.namespace",
			"regarding.name":            "involvedObject.name",
			"regarding.uid":             "involvedObject.uid",
			"regarding.apiVersion":      "involvedObject.apiVersion",
			"regarding.resourceVersion": "involvedObject.resourceVersion",
			"regarding.fieldPath":       "involvedObject.fieldPath",
			"reportingController":       "reportingComponent",
		},
		reject: notSupported,
	},
	{Group: "certificates.k8s.io", Version: "v1", Kind: "CertificateSigningRequest"}: {
		labels: []string{"metadata.name", "spec.signerName"},
		reject: notSupported,
	},
}

// convert checks one label of a selector for gvk and returns the name to
// match it under.
func convert(gvk schema.GroupVersionKind, label string) (string, error) {
	r, ok := rules[gvk]
	if !ok {
		l, _, err := runtime.DefaultMetaV1FieldSelectorConversion(label, "")
		return l, err
	}
	if slices.Contains(r.labels, label) {
		return label, nil
	}
	if to, ok := r.aliases[label]; ok {
		return to, nil
	}
	return "", r.reject(label)
}

// Supported reports whether a field label may be used in a selector for this kind, so the server can answer
// 400 `field label not supported: x` like Kubernetes does for unknown labels.
func Supported(gvk schema.GroupVersionKind, label string) bool {
	_, err := convert(gvk, label)
	return err == nil
}

// Parse parses a fieldSelector query value for a kind and returns a 400-worthy error (plain error,
// message like upstream's `"x" is not a known field selector: only "metadata.name", "metadata.namespace"`
// or `field label not supported: x`) when it names an unsupported label.
//
// The errors are returned unwrapped on purpose: their text is the message
// of the 400 response, and kubectl users (and scripts) know upstream's
// wording. A syntax error reads like upstream's too, e.g.
// `invalid selector: 'a'; can't understand 'a'`.
func Parse(gvk schema.GroupVersionKind, selector string) (fields.Selector, error) {
	sel, err := fields.ParseSelector(selector)
	if err != nil {
		return nil, err
	}
	return sel.Transform(func(label, value string) (string, string, error) {
		to, err := convert(gvk, label)
		return to, value, err
	})
}
