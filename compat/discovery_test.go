package compat

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDiscovery covers the commands that only read what the server is:
// version, discovery, cluster-info and whoami.
func TestDiscovery(t *testing.T) {
	t.Parallel()

	t.Run("version", func(t *testing.T) {
		out := mustKubectl(t, "version")
		wantLine(t, out, "Client Version: "+kubeVersion)
		wantMatch(t, out, `(?m)^Server Version: v1\.\d+\.\d+`)
		wantNotContains(t, out, "WARNING: version difference")

		var v struct {
			ClientVersion struct{ GitVersion, Major, Minor string }
			ServerVersion struct{ GitVersion, Major, Minor, Platform string }
		}
		js := mustKubectl(t, "version", "-o", "json")
		if err := json.Unmarshal([]byte(js), &v); err != nil {
			t.Fatalf("version -o json: %v\n%s", err, js)
		}
		if v.ServerVersion.Major != "1" || v.ServerVersion.Minor == "" || v.ServerVersion.Platform == "" {
			t.Errorf("serverVersion = %+v, want major 1, a minor and a platform", v.ServerVersion)
		}
		if v.ClientVersion.GitVersion != kubeVersion {
			t.Errorf("clientVersion.gitVersion = %q, want %q", v.ClientVersion.GitVersion, kubeVersion)
		}
	})

	t.Run("api-resources", func(t *testing.T) {
		out := mustKubectl(t, "api-resources")
		tb := parseTable(t, out)
		tb.wantHeader(t, "NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND")
		for _, want := range [][]string{
			{"pods", "po", "v1", "true", "Pod"},
			{"namespaces", "ns", "v1", "false", "Namespace"},
			{"configmaps", "cm", "v1", "true", "ConfigMap"},
			{"services", "svc", "v1", "true", "Service"},
			{"deployments", "deploy", "apps/v1", "true", "Deployment"},
			{"jobs", "", "batch/v1", "true", "Job"},
			{"customresourcedefinitions", "crd,crds", "apiextensions.k8s.io/v1", "false", "CustomResourceDefinition"},
		} {
			r := tb.row(t, "NAME", want[0])
			got := []string{r["NAME"], r["SHORTNAMES"], r["APIVERSION"], r["NAMESPACED"], r["KIND"]}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("api-resources row for %s = %q, want %q", want[0], got, want)
			}
		}
		for _, name := range tb.names() {
			if strings.Contains(name, "/") {
				t.Errorf("api-resources lists the subresource %q", name)
			}
		}

		names := mustKubectl(t, "api-resources", "-o", "name")
		for _, want := range []string{"pods", "deployments.apps", "jobs.batch", "configmaps"} {
			wantLine(t, names, want)
		}
		wantNotContains(t, names, "/scale", "/status")

		apps := parseTable(t, mustKubectl(t, "api-resources", "--api-group=apps", "--namespaced=true"))
		for _, n := range apps.names() {
			if n != "controllerrevisions" && n != "daemonsets" && n != "deployments" && n != "replicasets" && n != "statefulsets" {
				t.Errorf("api-resources --api-group=apps lists %q", n)
			}
		}
		apps.row(t, "NAME", "deployments")

		wide := parseTable(t, mustKubectl(t, "api-resources", "-o", "wide", "--api-group=apps"))
		d := wide.row(t, "NAME", "deployments")
		wantContains(t, d["VERBS"], "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
		wantEqual(t, "deployments CATEGORIES", d["CATEGORIES"], "all")
	})

	t.Run("api-versions", func(t *testing.T) {
		out := mustKubectl(t, "api-versions")
		for _, want := range []string{"v1", "apps/v1", "batch/v1", "apiextensions.k8s.io/v1",
			"rbac.authorization.k8s.io/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1"} {
			wantLine(t, out, want)
		}
	})

	t.Run("cluster-info", func(t *testing.T) {
		out := stripColor(mustKubectl(t, "cluster-info"))
		wantLine(t, out, "Kubernetes control plane is running at "+serverURL)
	})

	t.Run("auth whoami", func(t *testing.T) {
		r := kubectl(t, "auth", "whoami")
		if r.Code != 0 {
			if strings.Contains(r.Stderr, "not enabled") || strings.Contains(r.Stderr, "NotFound") ||
				strings.Contains(r.Stderr, "the server could not find the requested resource") {
				t.Skipf("SelfSubjectReview is not served: %s", strings.TrimSpace(r.Stderr))
			}
			t.Fatalf("kubectl auth whoami:\n%s", r)
		}
		tb := parseTable(t, r.Stdout)
		tb.wantHeader(t, "ATTRIBUTE", "VALUE")
		wantEqual(t, "Username", tb.row(t, "ATTRIBUTE", "Username")["VALUE"], "admin")
		wantContains(t, tb.row(t, "ATTRIBUTE", "Groups")["VALUE"], "system:masters")
	})
}
