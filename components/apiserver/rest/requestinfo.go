// Package rest is the HTTP face of the API server: it turns Kubernetes REST
// requests into calls on the registry and objects back into JSON.
//
//	GET    /api/v1/namespaces/default/pods            list   (or watch with ?watch=true)
//	POST   /api/v1/namespaces/default/pods            create
//	GET    /api/v1/namespaces/default/pods/web        get
//	PUT    /api/v1/namespaces/default/pods/web        update
//	PATCH  /api/v1/namespaces/default/pods/web        patch (4 patch types)
//	DELETE /api/v1/namespaces/default/pods/web        delete
//	PUT    /api/v1/namespaces/default/pods/web/status subresource
//	GET    /apis/apps/v1/deployments                  every namespace
//
// The same URL shape serves every kind, built-in or custom, which is why one
// generic handler (and one generic kubectl) is enough.
package rest

import (
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// RequestInfo is what a resource URL says.
type RequestInfo struct {
	IsResource  bool
	Verb        string // get list watch create update patch delete deletecollection
	Group       string
	Version     string
	Resource    string
	Namespace   string
	Name        string
	Subresource string
}

// GVR of the request.
func (ri *RequestInfo) GVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: ri.Group, Version: ri.Version, Resource: ri.Resource}
}

// namespaceSubresources are the paths under /namespaces/{name}/ that are not
// resources inside the namespace.
var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

// ParseRequestInfo reads a request's path and method. Non-resource paths
// (/healthz, /api, /apis/apps) have IsResource false.
func ParseRequestInfo(r *http.Request) *RequestInfo {
	ri := &RequestInfo{}
	parts := splitPath(r.URL.Path)
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		ri.Version, parts = parts[1], parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		ri.Group, ri.Version, parts = parts[1], parts[2], parts[3:]
	default:
		return ri
	}
	ri.IsResource = true
	if parts[0] == "namespaces" && len(parts) > 1 {
		ri.Namespace = parts[1]
		if len(parts) > 2 && !namespaceSubresources[parts[2]] {
			parts = parts[2:]
		}
	}
	ri.Resource = parts[0]
	if len(parts) > 1 {
		ri.Name = parts[1]
	}
	if len(parts) > 2 {
		ri.Subresource = parts[2]
	}
	if ri.Resource == "namespaces" {
		ri.Namespace = "" // a namespace is cluster-scoped; its name is the name
	}
	q := r.URL.Query()
	watching := q.Get("watch") == "true" || q.Get("watch") == "1"
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case ri.Name != "":
			ri.Verb = "get"
		case watching:
			ri.Verb = "watch"
		default:
			ri.Verb = "list"
		}
	case http.MethodPost:
		ri.Verb = "create"
	case http.MethodPut:
		ri.Verb = "update"
	case http.MethodPatch:
		ri.Verb = "patch"
	case http.MethodDelete:
		ri.Verb = "delete"
		if ri.Name == "" {
			ri.Verb = "deletecollection"
		}
	default:
		ri.Verb = strings.ToLower(r.Method)
	}
	return ri
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
