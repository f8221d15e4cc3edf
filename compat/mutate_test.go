package compat

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestLabelAnnotate covers kubectl label and annotate: add, refuse to
// overwrite, --overwrite, remove with key-.
func TestLabelAnnotate(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "label")
	mustKubectl(t, "apply", "-f", manifest(t, "nginx-deployment.yaml"), "-n", ns)
	const d = "deployment.apps/nginx-deployment"
	label := func(t *testing.T) string {
		return jsonpath(t, "{.metadata.labels.tier}", "deploy", "nginx-deployment", "-n", ns)
	}
	note := func(t *testing.T) string {
		return jsonpath(t, "{.metadata.annotations.description}", "deploy", "nginx-deployment", "-n", ns)
	}

	t.Run("label", func(t *testing.T) {
		wantLine(t, mustKubectl(t, "label", "deploy", "nginx-deployment", "tier=frontend", "-n", ns), d+" labeled")
		wantEqual(t, "label", label(t), "frontend")
		wantContains(t, mustFail(t, "label", "deploy", "nginx-deployment", "tier=backend", "-n", ns),
			"'tier' already has a value (frontend), and --overwrite is false")
		wantEqual(t, "label", label(t), "frontend")
		wantLine(t, mustKubectl(t, "label", "deploy", "nginx-deployment", "tier=backend", "--overwrite", "-n", ns), d+" labeled")
		wantEqual(t, "label", label(t), "backend")
		wantLine(t, mustKubectl(t, "label", "deploy", "nginx-deployment", "tier-", "-n", ns), d+" unlabeled")
		wantEqual(t, "label", label(t), "")
		wantEqual(t, "labels", jsonpath(t, "{.metadata.labels}", "deploy", "nginx-deployment", "-n", ns), `{"app":"nginx"}`)
	})

	t.Run("label by selector", func(t *testing.T) {
		// Every namespace holds kube-root-ca.crt (the root CA publisher's),
		// and --all labels it too.
		eventually(t, defaultWait, "kube-root-ca.crt published", func() error {
			return kubectl(t, "get", "cm", "kube-root-ca.crt", "-n", ns).err()
		})
		for _, n := range []string{"one", "two"} {
			mustKubectl(t, "create", "configmap", n, "--from-literal=k=v", "-n", ns)
		}
		out := mustKubectl(t, "label", "configmap", "--all", "color=red", "-n", ns)
		wantLine(t, out, "configmap/one labeled")
		wantLine(t, out, "configmap/two labeled")
		wantEqual(t, "selected", mustKubectl(t, "get", "cm", "-l", "color=red", "-o", "name", "-n", ns), "configmap/kube-root-ca.crt\nconfigmap/one\nconfigmap/two")
	})

	t.Run("annotate", func(t *testing.T) {
		wantLine(t, mustKubectl(t, "annotate", "deploy", "nginx-deployment", "description=my frontend", "-n", ns), d+" annotated")
		wantEqual(t, "annotation", note(t), "my frontend")
		wantContains(t, mustFail(t, "annotate", "deploy", "nginx-deployment", "description=other", "-n", ns),
			"--overwrite is false")
		wantLine(t, mustKubectl(t, "annotate", "deploy", "nginx-deployment", "description=my backend", "--overwrite", "-n", ns), d+" annotated")
		wantEqual(t, "annotation", note(t), "my backend")
		wantLine(t, mustKubectl(t, "annotate", "deploy", "nginx-deployment", "description-", "-n", ns), d+" annotated")
		wantEqual(t, "annotation", note(t), "")
	})
}

// TestPatch covers kubectl patch with the three patch types.
func TestPatch(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "patch")
	mustKubectl(t, "apply", "-f", manifest(t, "nginx-deployment.yaml"), "-n", ns)
	const d = "deployment.apps/nginx-deployment"
	containers := func(t *testing.T) string {
		return jsonpath(t, "{.spec.template.spec.containers[*].name}", "deploy", "nginx-deployment", "-n", ns)
	}

	t.Run("strategic", func(t *testing.T) {
		// Strategic merge merges the containers list by name (new elements
		// go first: that is what the real server's strategicpatch does).
		patch := `{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:1.36"}]}}}}`
		wantLine(t, mustKubectl(t, "patch", "deployment", "nginx-deployment", "--type=strategic", "-p", patch, "-n", ns), d+" patched")
		wantEqual(t, "containers", containers(t), "sidecar nginx")
		// The same patch again changes nothing.
		wantLine(t, mustKubectl(t, "patch", "deployment", "nginx-deployment", "-p", patch, "-n", ns), d+" patched (no change)")
		// $patch: delete removes a list element.
		del := `{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}`
		wantLine(t, mustKubectl(t, "patch", "deployment", "nginx-deployment", "-p", del, "-n", ns), d+" patched")
		wantEqual(t, "containers", containers(t), "nginx")
	})

	t.Run("merge", func(t *testing.T) {
		// A JSON merge patch replaces lists whole.
		patch := `{"metadata":{"labels":{"team":"blue"}},"spec":{"template":{"spec":{"containers":[{"name":"only","image":"busybox:1.36"}]}}}}`
		wantLine(t, mustKubectl(t, "patch", "deployment", "nginx-deployment", "--type=merge", "-p", patch, "-n", ns), d+" patched")
		wantEqual(t, "containers", containers(t), "only")
		wantEqual(t, "labels", jsonpath(t, "{.metadata.labels}", "deploy", "nginx-deployment", "-n", ns), `{"app":"nginx","team":"blue"}`)
		// null removes a key.
		wantLine(t, mustKubectl(t, "patch", "deployment", "nginx-deployment", "--type=merge", "-p", `{"metadata":{"labels":{"team":null}}}`, "-n", ns), d+" patched")
		wantEqual(t, "labels", jsonpath(t, "{.metadata.labels}", "deploy", "nginx-deployment", "-n", ns), `{"app":"nginx"}`)
	})

	t.Run("json", func(t *testing.T) {
		patch := `[{"op":"replace","path":"/spec/replicas","value":4},{"op":"add","path":"/metadata/labels/env","value":"prod"}]`
		wantLine(t, mustKubectl(t, "patch", "deployment", "nginx-deployment", "--type=json", "-p", patch, "-n", ns), d+" patched")
		wantEqual(t, "replicas", jsonpath(t, "{.spec.replicas}", "deploy", "nginx-deployment", "-n", ns), "4")
		wantEqual(t, "env label", jsonpath(t, "{.metadata.labels.env}", "deploy", "nginx-deployment", "-n", ns), "prod")
		// A failing test operation rejects the whole patch.
		bad := `[{"op":"replace","path":"/spec/replicas","value":9},{"op":"test","path":"/spec/replicas","value":99}]`
		mustFail(t, "patch", "deployment", "nginx-deployment", "--type=json", "-p", bad, "-n", ns)
		wantEqual(t, "replicas", jsonpath(t, "{.spec.replicas}", "deploy", "nginx-deployment", "-n", ns), "4")
	})

	t.Run("patch file", func(t *testing.T) {
		f := writeFile(t, "patch.yaml", "spec:\n  template:\n    metadata:\n      annotations:\n        patched-by: file\n")
		wantLine(t, mustKubectl(t, "patch", "deployment", "nginx-deployment", "--patch-file", f, "-n", ns), d+" patched")
		wantEqual(t, "annotation", jsonpath(t, "{.spec.template.metadata.annotations.patched-by}", "deploy", "nginx-deployment", "-n", ns), "file")
	})

	t.Run("status subresource", func(t *testing.T) {
		// The main resource ignores status; /status takes it. A Service's
		// load balancer status, because no kubelab controller writes it
		// (a cloud controller would); a Deployment's or a PDB's status would
		// be put right by its controller at once.
		mustKubectl(t, "create", "service", "loadbalancer", "web", "--tcp=80:80", "-n", ns)
		gen := jsonpath(t, "{.metadata.generation}", "svc", "web", "-n", ns)
		lb := `{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.7"}]}}}`
		mustKubectl(t, "patch", "svc", "web", "--type=merge", "-p", lb, "-n", ns)
		wantEqual(t, "ingress via the main resource", jsonpath(t, "{.status.loadBalancer.ingress[0].ip}", "svc", "web", "-n", ns), "")
		out := mustKubectl(t, "patch", "svc", "web", "--subresource=status", "--type=merge", "-p", lb, "-n", ns)
		wantLine(t, out, "service/web patched")
		wantEqual(t, "ingress via /status", jsonpath(t, "{.status.loadBalancer.ingress[0].ip}", "svc", "web", "-n", ns), "192.0.2.7")
		wantEqual(t, "generation after status writes", jsonpath(t, "{.metadata.generation}", "svc", "web", "-n", ns), gen)
		tb := parseTable(t, mustKubectl(t, "get", "svc", "web", "-n", ns))
		wantEqual(t, "EXTERNAL-IP", tb.row(t, "NAME", "web")["EXTERNAL-IP"], "192.0.2.7")
	})
}

// TestScale covers kubectl scale (the /scale subresource) and set image.
func TestScale(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "scale")
	mustKubectl(t, "apply", "-f", manifest(t, "nginx-deployment.yaml"), "-n", ns)
	const d = "deployment.apps/nginx-deployment"
	generation := func(t *testing.T) int {
		g, err := strconv.Atoi(jsonpath(t, "{.metadata.generation}", "deploy", "nginx-deployment", "-n", ns))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}

	t.Run("scale", func(t *testing.T) {
		g := generation(t)
		wantLine(t, mustKubectl(t, "scale", "deploy/nginx-deployment", "--replicas=5", "-n", ns), d+" scaled")
		wantEqual(t, "replicas", jsonpath(t, "{.spec.replicas}", "deploy", "nginx-deployment", "-n", ns), "5")
		if g2 := generation(t); g2 != g+1 {
			t.Errorf("metadata.generation = %d after scale, want %d", g2, g+1)
		}
		mustKubectl(t, "wait", "--for=jsonpath={.status.readyReplicas}=5", "deploy/nginx-deployment", "-n", ns, "--timeout=60s")
		wantEqual(t, "READY", parseTable(t, mustKubectl(t, "get", "deploy", "nginx-deployment", "-n", ns)).row(t, "NAME", "nginx-deployment")["READY"], "5/5")
	})

	t.Run("scale --current-replicas", func(t *testing.T) {
		stderr := mustFail(t, "scale", "deploy/nginx-deployment", "--current-replicas=2", "--replicas=3", "-n", ns)
		wantContains(t, stderr, "Expected replicas to be 2, was 5")
		wantLine(t, mustKubectl(t, "scale", "deploy/nginx-deployment", "--current-replicas=5", "--replicas=0", "-n", ns), d+" scaled")
		wantEqual(t, "replicas", jsonpath(t, "{.spec.replicas}", "deploy", "nginx-deployment", "-n", ns), "0")
	})

	t.Run("scale -f", func(t *testing.T) {
		out := mustKubectl(t, "scale", "--replicas=1", "-f", manifest(t, "nginx-deployment.yaml"), "-n", ns)
		wantLine(t, out, d+" scaled")
		wantEqual(t, "replicas", jsonpath(t, "{.spec.replicas}", "deploy", "nginx-deployment", "-n", ns), "1")
	})

	t.Run("set image", func(t *testing.T) {
		g := generation(t)
		out := mustKubectl(t, "set", "image", "deployment/nginx-deployment", "nginx=nginx:1.16.1", "-n", ns)
		wantLine(t, out, d+" image updated")
		wantEqual(t, "image", jsonpath(t, "{.spec.template.spec.containers[0].image}", "deploy", "nginx-deployment", "-n", ns), "nginx:1.16.1")
		if g2 := generation(t); g2 != g+1 {
			t.Errorf("metadata.generation = %d after set image, want %d", g2, g+1)
		}
	})

	t.Run("set env", func(t *testing.T) {
		out := mustKubectl(t, "set", "env", "deployment/nginx-deployment", "GREETING=hello", "-n", ns)
		wantLine(t, out, d+" env updated")
		wantEqual(t, "env", jsonpath(t, "{.spec.template.spec.containers[0].env[0].name}={.spec.template.spec.containers[0].env[0].value}", "deploy", "nginx-deployment", "-n", ns), "GREETING=hello")
	})
}

// TestReplace covers kubectl replace (edit needs an editor; replace is the
// same PUT).
func TestReplace(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "replace")
	mustKubectl(t, "create", "-f", manifest(t, "nginx-deployment.yaml"), "-n", ns)
	const d = "deployment.apps/nginx-deployment"
	// Let the controllers finish writing status first: a replace with the
	// resourceVersion read before their last write is (rightly) a conflict.
	mustKubectl(t, "rollout", "status", d, "-n", ns, "--timeout=90s")

	t.Run("replace -f from get -o yaml", func(t *testing.T) {
		live := mustKubectl(t, "get", "deploy", "nginx-deployment", "-o", "yaml", "-n", ns)
		edited := strings.Replace(live, "image: nginx:1.14.2", "image: nginx:1.16.1", 1)
		f := writeFile(t, "edited.yaml", edited)
		wantLine(t, mustKubectl(t, "replace", "-f", f), d+" replaced")
		wantEqual(t, "image", jsonpath(t, "{.spec.template.spec.containers[0].image}", "deploy", "nginx-deployment", "-n", ns), "nginx:1.16.1")

		// The file carries the old resourceVersion: replacing again is a
		// conflict, like two people editing the same object.
		stale := strings.Replace(live, "replicas: 3", "replicas: 2", 1)
		os.WriteFile(f, []byte(stale), 0o644)
		stderr := mustFail(t, "replace", "-f", f)
		wantContains(t, stderr, "Error from server (Conflict)",
			`Operation cannot be fulfilled on deployments.apps "nginx-deployment": the object has been modified; please apply your changes to the latest version and try again`)
		wantEqual(t, "replicas", jsonpath(t, "{.spec.replicas}", "deploy", "nginx-deployment", "-n", ns), "3")
	})

	t.Run("replace -f without resourceVersion", func(t *testing.T) {
		// kubectl fills in the resourceVersion it just read; the image
		// change above started a rollout whose status writes would race it.
		mustKubectl(t, "rollout", "status", d, "-n", ns, "--timeout=90s")
		f := manifest(t, "nginx-deployment.yaml", "replicas: 3", "replicas: 1")
		wantLine(t, mustKubectl(t, "replace", "-f", f, "-n", ns), d+" replaced")
		wantEqual(t, "replicas", jsonpath(t, "{.spec.replicas}", "deploy", "nginx-deployment", "-n", ns), "1")
		wantEqual(t, "image", jsonpath(t, "{.spec.template.spec.containers[0].image}", "deploy", "nginx-deployment", "-n", ns), "nginx:1.14.2")
	})

	t.Run("replace a missing object", func(t *testing.T) {
		f := manifest(t, "configmap.yaml")
		stderr := mustFail(t, "replace", "-f", f, "-n", ns)
		wantContains(t, stderr, `Error from server (NotFound)`, `configmaps "game-demo" not found`)
	})

	t.Run("replace --force", func(t *testing.T) {
		uid := jsonpath(t, "{.metadata.uid}", "deploy", "nginx-deployment", "-n", ns)
		out := mustKubectl(t, "replace", "--force", "-f", manifest(t, "nginx-deployment.yaml"), "-n", ns)
		wantLine(t, out, `deployment.apps "nginx-deployment" deleted from `+ns+` namespace`)
		wantLine(t, out, d+" replaced")
		if uid2 := jsonpath(t, "{.metadata.uid}", "deploy", "nginx-deployment", "-n", ns); uid2 == uid {
			t.Errorf("replace --force kept the uid %s; want a new object", uid)
		}
	})
}
