package compat

import "testing"

// TestErrors checks that the server's errors reach the user the way a real
// cluster's do: kubectl prints the Status message with its reason.
func TestErrors(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "errors")

	t.Run("not found", func(t *testing.T) {
		r := kubectl(t, "get", "pod", "nope", "-n", ns)
		if r.Code != 1 {
			t.Errorf("exit code = %d, want 1", r.Code)
		}
		wantLine(t, r.Stderr, `Error from server (NotFound): pods "nope" not found`)
		wantLine(t, mustFail(t, "get", "deploy", "nope", "-n", ns), `Error from server (NotFound): deployments.apps "nope" not found`)
		wantLine(t, mustFail(t, "get", "ns", "nope-"+ns), `Error from server (NotFound): namespaces "nope-`+ns+`" not found`)
		wantLine(t, mustFail(t, "describe", "svc", "nope", "-n", ns), `Error from server (NotFound): services "nope" not found`)
	})

	t.Run("unknown resource type", func(t *testing.T) {
		wantLine(t, mustFail(t, "get", "flurbs"), `error: the server doesn't have a resource type "flurbs"`)
	})

	t.Run("missing namespace", func(t *testing.T) {
		missing := "missing-" + ns
		wantContains(t, mustFail(t, "create", "configmap", "x", "-n", missing),
			`namespaces "`+missing+`" not found`)
		stderr := mustFail(t, "create", "-f", manifest(t, "configmap.yaml"), "-n", missing)
		wantContains(t, stderr, `Error from server (NotFound): error when creating "`, `namespaces "`+missing+`" not found`)
		stderr = mustFail(t, "apply", "-f", manifest(t, "nginx-deployment.yaml"), "-n", missing)
		wantContains(t, stderr, `namespaces "`+missing+`" not found`)
	})

	t.Run("already exists", func(t *testing.T) {
		mustKubectl(t, "create", "configmap", "twice", "-n", ns)
		wantContains(t, mustFail(t, "create", "configmap", "twice", "-n", ns),
			`error: failed to create configmap: configmaps "twice" already exists`)
		f := manifest(t, "nginx-deployment.yaml")
		mustKubectl(t, "create", "-f", f, "-n", ns)
		stderr := mustFail(t, "create", "-f", f, "-n", ns)
		wantContains(t, stderr, `Error from server (AlreadyExists): error when creating "`+f+`": deployments.apps "nginx-deployment" already exists`)
		wantContains(t, mustFail(t, "create", "namespace", ns), `Error from server (AlreadyExists): namespaces "`+ns+`" already exists`)
	})

	t.Run("invalid: selector does not match labels", func(t *testing.T) {
		bad := manifest(t, "nginx-deployment.yaml", "name: nginx-deployment", "name: bad",
			"    metadata:\n      labels:\n        app: nginx", "    metadata:\n      labels:\n        app: other")
		stderr := mustFail(t, "apply", "-f", bad, "-n", ns)
		wantContains(t, stderr, `The Deployment "bad" is invalid`,
			"spec.template.metadata.labels: Invalid value:", "`selector` does not match template `labels`")
		wantContains(t, mustFail(t, "get", "deploy", "bad", "-n", ns), "NotFound")
	})

	t.Run("invalid: name", func(t *testing.T) {
		stderr := mustFail(t, "create", "configmap", "Bad_Name", "-n", ns)
		wantContains(t, stderr, `ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of`)
	})

	t.Run("invalid: missing required fields", func(t *testing.T) {
		noImage := manifest(t, "pod.yaml", "    image: nginx:1.14.2\n", "")
		stderr := mustFail(t, "create", "-f", noImage, "-n", ns)
		wantContains(t, stderr, `The Pod "nginx" is invalid`, "spec.containers[0].image: Required value")
	})

	t.Run("invalid: negative replicas on scale", func(t *testing.T) {
		mustKubectl(t, "create", "deployment", "scaled", "--image=nginx", "-n", ns)
		stderr := mustFail(t, "patch", "deployment", "scaled", "--type=merge", "-p", `{"spec":{"replicas":-1}}`, "-n", ns)
		wantContains(t, stderr, `The Deployment "scaled" is invalid`, "spec.replicas: Invalid value: -1: must be greater than or equal to 0")
	})

	t.Run("immutable field", func(t *testing.T) {
		mustKubectl(t, "create", "-f", manifest(t, "pod.yaml"), "-n", ns)
		stderr := mustFail(t, "patch", "pod", "nginx", "-p", `{"spec":{"restartPolicy":"Never"}}`, "-n", ns)
		wantContains(t, stderr, `The Pod "nginx" is invalid`, "spec: Forbidden: pod updates may not change fields other than")
		mustKubectl(t, "create", "-f", manifest(t, "job.yaml"), "-n", ns)
		stderr = mustFail(t, "patch", "job", "pi", "--type=merge", "-p", `{"spec":{"selector":{"matchLabels":{"x":"y"}}}}`, "-n", ns)
		wantContains(t, stderr, `The Job "pi" is invalid`, "field is immutable")
	})

	t.Run("bad patch", func(t *testing.T) {
		mustKubectl(t, "create", "configmap", "patched", "-n", ns)
		stderr := mustFail(t, "patch", "configmap", "patched", "--type=json", "-p", `[{"op":"remove","path":"/data/nope"}]`, "-n", ns)
		// A real server answers 422 Invalid with empty details, which kubectl
		// prints as "The request is invalid: the server rejected our request
		// due to an error in our request" (a server may add the JSON patch
		// library's message as a cause).
		wantContains(t, stderr, "The request is invalid")
	})
}
