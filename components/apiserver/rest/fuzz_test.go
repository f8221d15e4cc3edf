package rest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubelab/kubelab/components/apiserver/registry"
)

// FuzzDecodeObject feeds arbitrary bodies, in every content type the server
// reads, to the request decoder: it may reject them, never panic.
func FuzzDecodeObject(f *testing.F) {
	seeds := []string{
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"a":1}}}`,
		"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n",
		"k8s\x00\n\x0a\x02v1\x12\x03Pod",
		`[]`, `null`, `{"kind":{}}`, "",
	}
	for _, s := range seeds {
		for _, ct := range []string{contentJSON, contentYAML, contentProtobuf} {
			f.Add([]byte(s), ct, "Strict")
		}
	}
	info := &registry.Info{GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Resource: "pods",
		New: func() runtime.Object { return &corev1.Pod{} }}
	f.Fuzz(func(t *testing.T, body []byte, contentType, validation string) {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/namespaces/default/pods?fieldValidation="+validation, bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		_, _, _ = decodeObject(r, body, info, info.GVK)
		_, _ = decodeApply(body, info)
		for _, pt := range []string{patchJSON, patchMerge, patchStrategic} {
			_, _ = applyPatch(pt, []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`), body, info)
		}
	})
}
