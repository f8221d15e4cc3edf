package rest

// Aggregated discovery (apidiscovery.k8s.io/v2) answers "what do you serve?"
// in one response per root instead of one per group/version: kubectl and
// client-go ask for it first (Accept: ...;as=APIGroupDiscoveryList) and fall
// back to the legacy documents when a server does not offer it. The content
// is the same as the legacy lists, reshaped: subresources sit under their
// resource.

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const aggregatedContentType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// wantsAggregated reports whether the client accepts aggregated discovery.
func wantsAggregated(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		_, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && params["g"] == "apidiscovery.k8s.io" && params["v"] == "v2" && params["as"] == "APIGroupDiscoveryList" {
			return true
		}
	}
	return false
}

// serveAggregated answers /api (core == true) or /apis.
func (d *Discovery) serveAggregated(w http.ResponseWriter, core bool) {
	list := &apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}}
	if core {
		list.Items = append(list.Items, d.groupDiscovery("", []string{"v1"}))
	} else {
		for _, g := range d.groups() {
			var versions []string
			for _, v := range g.Versions {
				versions = append(versions, v.Version)
			}
			list.Items = append(list.Items, d.groupDiscovery(g.Name, versions))
		}
	}
	data, err := json.Marshal(list)
	if err != nil {
		writeError(w, err)
		return
	}
	// The content type is how clients tell the two formats apart.
	w.Header().Set("Content-Type", aggregatedContentType)
	w.Header().Set("Vary", "Accept")
	_, _ = w.Write(data)
}

func (d *Discovery) groupDiscovery(group string, versions []string) apidiscoveryv2.APIGroupDiscovery {
	gd := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: group}}
	for _, v := range versions {
		legacy := d.ResourceList(group, v)
		if legacy == nil {
			continue
		}
		vd := apidiscoveryv2.APIVersionDiscovery{Version: v, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
		index := map[string]int{}
		for _, r := range legacy.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			scope := apidiscoveryv2.ScopeCluster
			if r.Namespaced {
				scope = apidiscoveryv2.ScopeNamespace
			}
			index[r.Name] = len(vd.Resources)
			vd.Resources = append(vd.Resources, apidiscoveryv2.APIResourceDiscovery{
				Resource: r.Name, SingularResource: r.SingularName, Scope: scope, Verbs: r.Verbs,
				ShortNames: r.ShortNames, Categories: r.Categories,
				ResponseKind: &metav1.GroupVersionKind{Group: group, Version: v, Kind: r.Kind},
			})
		}
		for _, r := range legacy.APIResources {
			parent, sub, ok := strings.Cut(r.Name, "/")
			i, found := index[parent]
			if !ok || !found {
				continue
			}
			kind := &metav1.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
			if kind.Version == "" {
				kind.Group, kind.Version = group, v
			}
			vd.Resources[i].Subresources = append(vd.Resources[i].Subresources, apidiscoveryv2.APISubresourceDiscovery{
				Subresource: sub, ResponseKind: kind, Verbs: r.Verbs,
			})
		}
		gd.Versions = append(gd.Versions, vd)
	}
	return gd
}
