package rest

// kubectl validates `apply -f` and `create -f` either on the client (with the
// schemas from /openapi/v3) or, when the server says it can, on the server:
// it looks in /openapi/v3 for the PATCH operation of the kind and checks that
// it takes a `fieldValidation` query parameter. We serve exactly that — one
// small document per group/version declaring the PATCH operations — and do
// the strict decoding ourselves (see decodeJSON). No schemas: `kubectl
// explain` is out of scope for now.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/kubelab/kubelab/components/apiserver/registry"
	"github.com/kubelab/kubelab/components/version"
)

// OpenAPI serves /openapi/v3 and /openapi/v3/{api/v1, apis/g/v}.
type OpenAPI struct {
	Registry *registry.Registry
}

func gvPath(group, ver string) string {
	if group == "" {
		return "api/" + ver
	}
	return "apis/" + group + "/" + ver
}

// ServeHTTP answers the index or one group/version document.
func (o *OpenAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, "/openapi/v3"), "/")
	docs := o.documents()
	if rest == "" {
		paths := map[string]interface{}{}
		for p, doc := range docs {
			paths[p] = map[string]string{"serverRelativeURL": "/openapi/v3/" + p + "?hash=" + hash(doc)}
		}
		writeJSON(w, http.StatusOK, map[string]interface{}{"paths": paths})
		return
	}
	doc, ok := docs[rest]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", contentJSON)
	w.Header().Set("Etag", `"`+hash(doc)+`"`)
	_, _ = w.Write(doc)
}

func hash(b []byte) string {
	s := sha256.Sum256(b)
	return strings.ToUpper(hex.EncodeToString(s[:]))[:32]
}

// documents builds one OpenAPI v3 document per group/version.
func (o *OpenAPI) documents() map[string][]byte {
	type op = map[string]interface{}
	paths := map[string]map[string]interface{}{}
	patchBody := op{"content": op{
		"application/json-patch+json":            op{"schema": op{"type": "object"}},
		"application/merge-patch+json":           op{"schema": op{"type": "object"}},
		"application/strategic-merge-patch+json": op{"schema": op{"type": "object"}},
		"application/apply-patch+yaml":           op{"schema": op{"type": "object"}},
	}, "required": true}
	params := []op{
		{"name": "dryRun", "in": "query", "schema": op{"type": "string", "uniqueItems": true}},
		{"name": "fieldManager", "in": "query", "schema": op{"type": "string", "uniqueItems": true}},
		{"name": "fieldValidation", "in": "query", "schema": op{"type": "string", "uniqueItems": true}},
		{"name": "force", "in": "query", "schema": op{"type": "boolean", "uniqueItems": true}},
	}
	for _, st := range o.Registry.Stores() {
		info := st.Info
		gp := gvPath(info.GVK.Group, info.GVK.Version)
		if paths[gp] == nil {
			paths[gp] = map[string]interface{}{}
		}
		url := "/" + gp + "/" + info.Resource + "/{name}"
		if info.Namespaced {
			url = "/" + gp + "/namespaces/{namespace}/" + info.Resource + "/{name}"
		}
		paths[gp][url] = op{"patch": op{
			"operationId":                     "patch" + info.GVK.Kind,
			"parameters":                      params,
			"requestBody":                     patchBody,
			"responses":                       op{"200": op{"description": "OK"}},
			"x-kubernetes-action":             "patch",
			"x-kubernetes-group-version-kind": op{"group": info.GVK.Group, "version": info.GVK.Version, "kind": info.GVK.Kind},
		}}
	}
	out := map[string][]byte{}
	for gp, p := range paths {
		doc, _ := json.Marshal(op{
			"openapi":    "3.0.0",
			"info":       op{"title": "Kubernetes", "version": version.KubernetesVersion},
			"paths":      p,
			"components": op{"schemas": op{}},
		})
		out[gp] = doc
	}
	return out
}
