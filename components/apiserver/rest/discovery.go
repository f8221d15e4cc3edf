package rest

// Discovery is how a client learns what a server serves: kubectl reads it
// before every command to map "deploy" to apps/v1 deployments, to know that
// pods are namespaced, and which verbs exist. It is computed from the
// registry, so a new CRD appears in `kubectl api-resources` right away.
//
//	GET /api                -> APIVersions   ["v1"]
//	GET /apis               -> APIGroupList  (apps, batch, ... and CRD groups)
//	GET /api/v1             -> APIResourceList (pods, pods/status, ...)
//	GET /apis/apps/v1       -> APIResourceList

import (
	"net/http"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubelab/kubelab/components/apiserver/registry"
)

var allVerbs = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// subresourceDoc says how each subresource appears in discovery.
var subresourceDoc = map[string]struct {
	group, version, kind string
	verbs                metav1.Verbs
}{
	"status":              {verbs: metav1.Verbs{"get", "patch", "update"}},
	"binding":             {kind: "Binding", verbs: metav1.Verbs{"create"}},
	"log":                 {kind: "Pod", verbs: metav1.Verbs{"get"}},
	"exec":                {kind: "PodExecOptions", verbs: metav1.Verbs{"create", "get"}},
	"attach":              {kind: "PodAttachOptions", verbs: metav1.Verbs{"create", "get"}},
	"portforward":         {kind: "PodPortForwardOptions", verbs: metav1.Verbs{"create", "get"}},
	"eviction":            {group: "policy", version: "v1", kind: "Eviction", verbs: metav1.Verbs{"create"}},
	"ephemeralcontainers": {verbs: metav1.Verbs{"get", "patch", "update"}},
	"finalize":            {verbs: metav1.Verbs{"update"}},
	"proxy":               {kind: "NodeProxyOptions", verbs: metav1.Verbs{"create", "delete", "get", "patch", "update"}},
	"token":               {group: "authentication.k8s.io", version: "v1", kind: "TokenRequest", verbs: metav1.Verbs{"create"}},
}

// Discovery serves the discovery documents.
type Discovery struct {
	Registry *registry.Registry
}

// ServeAPI answers GET /api.
func (d *Discovery) ServeAPI(w http.ResponseWriter, r *http.Request) {
	if wantsAggregated(r) {
		d.serveAggregated(w, true)
		return
	}
	writeJSON(w, http.StatusOK, &metav1.APIVersions{
		TypeMeta:                   metav1.TypeMeta{Kind: "APIVersions"},
		Versions:                   []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host}},
	})
}

// groups returns every API group with its versions (core excluded).
func (d *Discovery) groups() []metav1.APIGroup {
	versions := map[string]map[string]bool{}
	for _, st := range d.Registry.Stores() {
		gv := st.Info.GVK.GroupVersion()
		if gv.Group == "" {
			continue
		}
		if versions[gv.Group] == nil {
			versions[gv.Group] = map[string]bool{}
		}
		versions[gv.Group][gv.Version] = true
	}
	for gvr := range virtualResources {
		if versions[gvr.Group] == nil {
			versions[gvr.Group] = map[string]bool{}
		}
		versions[gvr.Group][gvr.Version] = true
	}
	names := make([]string, 0, len(versions))
	for g := range versions {
		names = append(names, g)
	}
	sort.Slice(names, func(i, j int) bool { return groupRank(names[i]) < groupRank(names[j]) })
	out := make([]metav1.APIGroup, 0, len(names))
	for _, g := range names {
		var vs []metav1.GroupVersionForDiscovery
		for v := range versions[g] {
			vs = append(vs, metav1.GroupVersionForDiscovery{GroupVersion: g + "/" + v, Version: v})
		}
		sort.Slice(vs, func(i, j int) bool { return vs[i].Version > vs[j].Version })
		out = append(out, metav1.APIGroup{Name: g, Versions: vs, PreferredVersion: vs[0]})
	}
	return out
}

// groupRank keeps built-in groups first (as Kubernetes lists them), then
// custom groups alphabetically.
func groupRank(g string) string {
	for i, b := range []string{"apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io", "autoscaling", "batch",
		"certificates.k8s.io", "networking.k8s.io", "policy", "rbac.authorization.k8s.io", "storage.k8s.io",
		"admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io"} {
		if g == b {
			return string(rune('A' + i))
		}
	}
	return "~" + g
}

// ServeAPIs answers GET /apis and GET /apis/{group}.
func (d *Discovery) ServeAPIs(w http.ResponseWriter, r *http.Request) {
	group := strings.Trim(strings.TrimPrefix(r.URL.Path, "/apis"), "/")
	if group == "" && wantsAggregated(r) {
		d.serveAggregated(w, false)
		return
	}
	groups := d.groups()
	if group == "" {
		writeJSON(w, http.StatusOK, &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: groups})
		return
	}
	for _, g := range groups {
		if g.Name == group {
			g.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
			writeJSON(w, http.StatusOK, &g)
			return
		}
	}
	http.NotFound(w, r)
}

// ResourceList returns the APIResourceList of one group/version, or nil.
func (d *Discovery) ResourceList(group, version string) *metav1.APIResourceList {
	gv := version
	if group != "" {
		gv = group + "/" + version
	}
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv}
	found := false
	for _, st := range d.Registry.Stores() {
		info := st.Info
		if info.GVK.Group != group || info.GVK.Version != version {
			continue
		}
		found = true
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: info.Resource, SingularName: info.Singular, Namespaced: info.Namespaced, Kind: info.GVK.Kind,
			Verbs: allVerbs, ShortNames: info.ShortNames, Categories: info.Categories,
		})
		subs := append([]string{}, info.Subresources...)
		if info.Status {
			subs = append(subs, "status")
		}
		sort.Strings(subs)
		if info.Scale != nil {
			list.APIResources = append(list.APIResources, metav1.APIResource{Name: info.Resource + "/scale", Namespaced: info.Namespaced,
				Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: metav1.Verbs{"get", "patch", "update"}})
		}
		for _, sub := range subs {
			doc := subresourceDoc[sub]
			kind := doc.kind
			if kind == "" {
				kind = info.GVK.Kind
			}
			list.APIResources = append(list.APIResources, metav1.APIResource{Name: info.Resource + "/" + sub, Namespaced: info.Namespaced,
				Group: doc.group, Version: doc.version, Kind: kind, Verbs: doc.verbs})
		}
	}
	for gvr, res := range virtualResources {
		if gvr.Group == group && gvr.Version == version {
			found = true
			list.APIResources = append(list.APIResources, res)
		}
	}
	if !found {
		return nil
	}
	return list
}
