package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/kubelab/kubelab/components/apiserver/registry"
)

// MaxBodyBytes is the largest request body accepted (3 MiB, like Kubernetes).
const MaxBodyBytes = 3 << 20

const (
	contentJSON     = "application/json"
	contentYAML     = "application/yaml"
	contentProtobuf = "application/vnd.kubernetes.protobuf"
)

// readBody reads the request body, answering 413 when it is too large.
func readBody(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("reading request body: %v", err))
	}
	if len(data) > MaxBodyBytes {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", MaxBodyBytes))
	}
	return data, nil
}

func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return contentJSON
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}

// decodeObject turns a request body (JSON, YAML or protobuf) into an object of
// the resource's kind. Field validation follows ?fieldValidation=: Strict
// rejects unknown and duplicate fields (400), Warn (the default) reports them
// as warnings, Ignore drops them silently.
func decodeObject(r *http.Request, data []byte, info *registry.Info, want schema.GroupVersionKind) (runtime.Object, []string, error) {
	mt := mediaType(r)
	switch mt {
	case contentProtobuf:
		if info.IsCustom() {
			return nil, nil, unsupportedMediaType(mt)
		}
		obj, gvk, err := registry.Codecs.UniversalDeserializer().Decode(data, &want, nil)
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("decoding protobuf body: %v", err))
		}
		if *gvk != want {
			return nil, nil, kindMismatch(*gvk, want)
		}
		return obj, nil, nil
	case contentYAML, "application/yml", "text/yaml":
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("decoding YAML body: %v", err))
		}
		data = j
	case contentJSON, "":
	default:
		return nil, nil, unsupportedMediaType(mt)
	}
	return decodeJSON(data, info, want, r.URL.Query().Get("fieldValidation"))
}

func decodeJSON(data []byte, info *registry.Info, want schema.GroupVersionKind, validation string) (runtime.Object, []string, error) {
	var tm metav1.TypeMeta
	if err := json.Unmarshal(data, &tm); err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("decoding JSON body: %v", err))
	}
	if tm.APIVersion != "" || tm.Kind != "" {
		got := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
		if got != want {
			return nil, nil, kindMismatch(got, want)
		}
	}
	var obj runtime.Object
	if want == info.GVK {
		obj = info.NewObject()
	} else {
		o, err := registry.Scheme.New(want)
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("no kind %s is registered", want))
		}
		obj = o
	}
	if u, ok := obj.(*unstructured.Unstructured); ok {
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("decoding JSON body: %v", err))
		}
		u.SetGroupVersionKind(want)
		if info.Schema == nil {
			return u, nil, nil
		}
		// Fields the CRD's schema does not declare are dropped; strict
		// validation refuses them, like for built-in kinds.
		var warnings []string
		for _, path := range info.Schema.Prune(u) {
			warnings = append(warnings, fmt.Sprintf("unknown field %q", path))
		}
		if len(warnings) > 0 && strings.EqualFold(validation, "strict") {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("strict decoding error: %s", strings.Join(warnings, ", ")))
		}
		if strings.EqualFold(validation, "ignore") {
			warnings = nil
		}
		return u, warnings, nil
	}
	var warnings []string
	switch strings.ToLower(validation) {
	case "ignore":
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(data, obj); err != nil {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("decoding JSON body: %v", err))
		}
	default:
		strictErrs, err := sigsjson.UnmarshalStrict(data, obj)
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("decoding JSON body: %v", err))
		}
		for _, e := range strictErrs {
			warnings = append(warnings, e.Error())
		}
		if len(warnings) > 0 && strings.EqualFold(validation, "strict") {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("strict decoding error: %s", strings.Join(warnings, ", ")))
		}
	}
	obj.GetObjectKind().SetGroupVersionKind(want)
	return obj, warnings, nil
}

func kindMismatch(got, want schema.GroupVersionKind) error {
	return apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)"+
		" or the kind in the data (%s) does not match the expected kind (%s)", got.GroupVersion(), want.GroupVersion(), got.Kind, want.Kind))
}

// writeJSON writes any value as JSON with a status code.
func writeJSON(w http.ResponseWriter, code int, v interface{}) {
	data, err := json.Marshal(v)
	if err != nil {
		writeError(w, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", contentJSON)
	w.WriteHeader(code)
	_, _ = w.Write(data)
}

// writeError answers with a metav1.Status, the error body every Kubernetes
// client understands: code, reason (NotFound, AlreadyExists, Conflict,
// Invalid...) and for Invalid the list of failing fields.
func writeError(w http.ResponseWriter, err error) {
	var status metav1.Status
	var apiStatus apierrors.APIStatus
	if errors.As(err, &apiStatus) {
		status = apiStatus.Status()
	} else if errors.Is(err, context.Canceled) {
		// The client went away mid-request: nothing is wrong with the server.
		slog.Debug("request canceled", "err", err)
		status = apierrors.NewTimeoutError("request canceled by the client", 0).ErrStatus
	} else {
		slog.Error("internal error", "err", err)
		status = apierrors.NewInternalError(err).ErrStatus
	}
	status.Kind, status.APIVersion = "Status", "v1"
	if status.Status == "" {
		status.Status = metav1.StatusFailure
	}
	code := int(status.Code)
	if code == 0 {
		code = http.StatusInternalServerError
	}
	writeJSON(w, code, status)
}

// addWarnings sends `Warning: 299 - "..."` headers, which kubectl prints.
func addWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", fmt.Sprintf("299 - %q", msg))
	}
}

// unsupportedMediaType is the 415 answer for a body type we do not read.
func unsupportedMediaType(mt string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType, Reason: metav1.StatusReasonUnsupportedMediaType,
		Message: fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s", contentJSON, contentYAML, contentProtobuf) + " (got " + mt + ")",
	}}
}
