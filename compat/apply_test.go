package compat

import (
	"regexp"
	"strings"
	"testing"
)

// TestApply covers client-side apply of a multi-document file, field
// validation, server-side apply with conflicts, dry runs and diff.
func TestApply(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "apply")
	app := manifest(t, "nginx-app.yaml")

	t.Run("create multi-document", func(t *testing.T) {
		out := mustKubectl(t, "apply", "-f", app, "-n", ns)
		wantLine(t, out, "service/my-nginx-svc created")
		wantLine(t, out, "deployment.apps/my-nginx created")
		wantLine(t, out, "configmap/game-demo created")
		wantEqual(t, "deployment replicas", jsonpath(t, "{.spec.replicas}", "deploy", "my-nginx", "-n", ns), "3")
		wantEqual(t, "service type", jsonpath(t, "{.spec.type}", "svc", "my-nginx-svc", "-n", ns), "LoadBalancer")
		wantEqual(t, "configmap data", jsonpath(t, "{.data.player_initial_lives}", "cm", "game-demo", "-n", ns), "3")
		// Client-side apply keeps what it applied in an annotation.
		last := jsonpath(t, `{.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}`, "cm", "game-demo", "-n", ns)
		wantContains(t, last, `"player_initial_lives":"3"`)
	})

	t.Run("again is unchanged", func(t *testing.T) {
		// The ConfigMap's: the Deployment's status keeps changing under
		// the controllers, which is not what a no-op apply is about.
		rv := jsonpath(t, "{.metadata.resourceVersion}", "cm", "game-demo", "-n", ns)
		out := mustKubectl(t, "apply", "-f", app, "-n", ns)
		wantLine(t, out, "service/my-nginx-svc unchanged")
		wantLine(t, out, "deployment.apps/my-nginx unchanged")
		wantLine(t, out, "configmap/game-demo unchanged")
		wantEqual(t, "resourceVersion after a no-op apply", jsonpath(t, "{.metadata.resourceVersion}", "cm", "game-demo", "-n", ns), rv)
	})

	t.Run("a change is configured", func(t *testing.T) {
		gen := jsonpath(t, "{.metadata.generation}", "deploy", "my-nginx", "-n", ns)
		changed := manifest(t, "nginx-app.yaml", "replicas: 3", "replicas: 2", "image: nginx:1.14.2", "image: nginx:1.16.1")
		out := mustKubectl(t, "apply", "-f", changed, "-n", ns)
		wantLine(t, out, "service/my-nginx-svc unchanged")
		wantLine(t, out, "deployment.apps/my-nginx configured")
		wantLine(t, out, "configmap/game-demo unchanged")
		wantEqual(t, "replicas", jsonpath(t, "{.spec.replicas}", "deploy", "my-nginx", "-n", ns), "2")
		wantEqual(t, "image", jsonpath(t, "{.spec.template.spec.containers[0].image}", "deploy", "my-nginx", "-n", ns), "nginx:1.16.1")
		if g := jsonpath(t, "{.metadata.generation}", "deploy", "my-nginx", "-n", ns); g == gen {
			t.Errorf("metadata.generation stayed %s after a spec change", g)
		}
	})

	t.Run("removing a field from the manifest removes it", func(t *testing.T) {
		// The three-way merge: a key applied before and gone now is deleted.
		changed := manifest(t, "configmap.yaml", `  ui_properties_file_name: "user-interface.properties"`+"\n", "")
		out := mustKubectl(t, "apply", "-f", changed, "-n", ns)
		wantLine(t, out, "configmap/game-demo configured")
		keys := jsonpath(t, "{.data}", "cm", "game-demo", "-n", ns)
		wantNotContains(t, keys, "ui_properties_file_name")
		wantContains(t, keys, "player_initial_lives")
	})

	// A typo in a field name: kubectl sends fieldValidation=Strict and the
	// server must refuse the unknown field, on create (POST) and on update
	// (PATCH).
	typo := func(t *testing.T, name string) string {
		return manifest(t, "nginx-deployment.yaml", "name: nginx-deployment", "name: "+name,
			"image: nginx:1.14.2", "image: nginx:1.14.2\n        imagePullPolicyy: Always")
	}
	const unknown = `strict decoding error: unknown field "spec.template.spec.containers[0].imagePullPolicyy"`

	t.Run("unknown field on create", func(t *testing.T) {
		stderr := mustFail(t, "apply", "-f", typo(t, "typo-create"), "-n", ns)
		wantContains(t, stderr, unknown)
		wantContains(t, stderr, "Error from server (BadRequest)")
		wantContains(t, mustFail(t, "get", "deploy", "typo-create", "-n", ns), "NotFound")
	})

	t.Run("unknown field on update", func(t *testing.T) {
		f := manifest(t, "nginx-deployment.yaml", "name: nginx-deployment", "name: typo-update")
		mustKubectl(t, "apply", "-f", f, "-n", ns)
		stderr := mustFail(t, "apply", "-f", typo(t, "typo-update"), "-n", ns)
		wantContains(t, stderr, "strict decoding error", "imagePullPolicyy")
	})

	t.Run("unknown field with --validate=warn", func(t *testing.T) {
		r := kubectl(t, "apply", "--validate=warn", "-f", typo(t, "typo-warn"), "-n", ns)
		if r.Code != 0 {
			t.Fatalf("apply --validate=warn:\n%s", r)
		}
		wantLine(t, r.Stdout, "deployment.apps/typo-warn created")
		wantContains(t, r.Stderr, `Warning: unknown field "spec.template.spec.containers[0].imagePullPolicyy"`)
	})

	t.Run("unknown field with --validate=false", func(t *testing.T) {
		out := mustKubectl(t, "apply", "--validate=false", "-f", typo(t, "typo-ignored"), "-n", ns)
		wantLine(t, out, "deployment.apps/typo-ignored created")
		// The server drops the unknown field (the last-applied annotation
		// keeps the manifest as written).
		c := jsonpath(t, "{.spec.template.spec.containers[0]}", "deploy", "typo-ignored", "-n", ns)
		wantNotContains(t, c, "imagePullPolicyy")
		wantContains(t, c, `"imagePullPolicy":"IfNotPresent"`)
	})

	t.Run("dry-run=server changes nothing", func(t *testing.T) {
		changed := manifest(t, "configmap.yaml", `player_initial_lives: "3"`, `player_initial_lives: "9"`)
		out := mustKubectl(t, "apply", "--dry-run=server", "-f", changed, "-n", ns)
		wantLine(t, out, "configmap/game-demo configured (server dry run)")
		wantEqual(t, "data after a dry run", jsonpath(t, "{.data.player_initial_lives}", "cm", "game-demo", "-n", ns), "3")

		out = mustKubectl(t, "apply", "--dry-run=server", "-f", manifest(t, "secret.yaml"), "-n", ns)
		wantLine(t, out, "secret/mysecret created (server dry run)")
		wantContains(t, mustFail(t, "get", "secret", "mysecret", "-n", ns), `secrets "mysecret" not found`)
	})

	t.Run("stdin", func(t *testing.T) {
		r := kubectlStdin(t, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-stdin\ndata:\n  k: v\n",
			"apply", "-f", "-", "-n", ns)
		if r.Code != 0 {
			t.Fatalf("apply -f -:\n%s", r)
		}
		wantLine(t, r.Stdout, "configmap/from-stdin created")
	})
}

// TestServerSideApply covers apply --server-side: field managers, conflicts
// and --force-conflicts.
func TestServerSideApply(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "ssa")
	cm := manifest(t, "configmap.yaml")

	t.Run("create", func(t *testing.T) {
		out := mustKubectl(t, "apply", "--server-side", "-f", cm, "-n", ns)
		wantLine(t, out, "configmap/game-demo serverside-applied")
		managers := jsonpath(t, `{range .metadata.managedFields[*]}{.manager}:{.operation}{"\n"}{end}`, "cm", "game-demo", "-n", ns)
		wantLine(t, managers, "kubectl:Apply")
	})

	t.Run("again", func(t *testing.T) {
		out := mustKubectl(t, "apply", "--server-side", "-f", cm, "-n", ns)
		wantLine(t, out, "configmap/game-demo serverside-applied")
	})

	changed := manifest(t, "configmap.yaml", `player_initial_lives: "3"`, `player_initial_lives: "5"`)

	t.Run("conflict with another manager", func(t *testing.T) {
		stderr := mustFail(t, "apply", "--server-side", "--field-manager=other", "-f", changed, "-n", ns)
		wantContains(t, stderr, `Apply failed with 1 conflict: conflict with "kubectl": .data.player_initial_lives`)
		wantContains(t, stderr, "--force-conflicts")
		wantEqual(t, "data after a conflict", jsonpath(t, "{.data.player_initial_lives}", "cm", "game-demo", "-n", ns), "3")
	})

	t.Run("force-conflicts", func(t *testing.T) {
		out := mustKubectl(t, "apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", changed, "-n", ns)
		wantLine(t, out, "configmap/game-demo serverside-applied")
		wantEqual(t, "data after --force-conflicts", jsonpath(t, "{.data.player_initial_lives}", "cm", "game-demo", "-n", ns), "5")
		managers := jsonpath(t, `{range .metadata.managedFields[*]}{.manager}{"\n"}{end}`, "cm", "game-demo", "-n", ns)
		wantLine(t, managers, "other")
		// "other" took the field over: kubectl now conflicts with other.
		stderr := mustFail(t, "apply", "--server-side", "-f", cm, "-n", ns)
		wantContains(t, stderr, `conflict with "other": .data.player_initial_lives`)
	})

	t.Run("show-managed-fields", func(t *testing.T) {
		plain := mustKubectl(t, "get", "cm", "game-demo", "-n", ns, "-o", "yaml")
		wantNotContains(t, plain, "managedFields")
		full := mustKubectl(t, "get", "cm", "game-demo", "-n", ns, "-o", "yaml", "--show-managed-fields")
		wantContains(t, full, "managedFields:", "manager: other", "fieldsType: FieldsV1", "f:player_initial_lives: {}")
	})

	t.Run("a deployment", func(t *testing.T) {
		d := manifest(t, "nginx-deployment.yaml")
		out := mustKubectl(t, "apply", "--server-side", "-f", d, "-n", ns)
		wantLine(t, out, "deployment.apps/nginx-deployment serverside-applied")
		// kubectl scale updates .spec.replicas through /scale without a
		// fieldManager, so the manager is "kubectl" (from the User-Agent),
		// operation Update, subresource scale; the server records that on the
		// Deployment, so the next apply of replicas: 3 conflicts with it.
		mustKubectl(t, "scale", "deploy/nginx-deployment", "--replicas=4", "-n", ns)
		managers := jsonpath(t, `{range .metadata.managedFields[*]}{.manager}:{.operation}:{.subresource}{"\n"}{end}`, "deploy", "nginx-deployment", "-n", ns)
		wantLine(t, managers, "kubectl:Update:scale")
		stderr := mustFail(t, "apply", "--server-side", "-f", d, "-n", ns)
		wantMatch(t, stderr, `conflict with "kubectl" with subresource "scale" using apps/v1: \.spec\.replicas`)
	})
}

// TestDiff covers kubectl diff, which asks the server for a dry-run apply.
func TestDiff(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "diff")
	cm := manifest(t, "configmap.yaml")
	mustKubectl(t, "apply", "-f", cm, "-n", ns)

	t.Run("same", func(t *testing.T) {
		r := kubectl(t, "diff", "-f", cm, "-n", ns)
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != "" {
			t.Errorf("diff of an applied manifest: want exit 0 and no output, got\n%s", r)
		}
	})

	t.Run("different", func(t *testing.T) {
		changed := manifest(t, "configmap.yaml", `player_initial_lives: "3"`, `player_initial_lives: "5"`)
		r := kubectl(t, "diff", "-f", changed, "-n", ns)
		if r.Code != 1 {
			t.Fatalf("diff of a changed manifest: want exit 1, got\n%s", r)
		}
		wantMatch(t, r.Stdout, `(?m)^-\s+player_initial_lives: "3"$`, `(?m)^\+\s+player_initial_lives: "5"$`)
		// Nothing else differs (no resourceVersion or generation noise).
		for _, l := range strings.Split(r.Stdout, "\n") {
			if (strings.HasPrefix(l, "-") || strings.HasPrefix(l, "+")) && !strings.HasPrefix(l, "---") &&
				!strings.HasPrefix(l, "+++") && !strings.Contains(l, "player_initial_lives") {
				t.Errorf("unexpected diff line %q in\n%s", l, r.Stdout)
			}
		}
		wantEqual(t, "data after diff", jsonpath(t, "{.data.player_initial_lives}", "cm", "game-demo", "-n", ns), "3")
	})

	t.Run("new object", func(t *testing.T) {
		r := kubectl(t, "diff", "-f", manifest(t, "secret.yaml"), "-n", ns)
		if r.Code != 1 {
			t.Fatalf("diff of a new object: want exit 1, got\n%s", r)
		}
		wantMatch(t, r.Stdout, `(?m)^\+kind: Secret$`, `(?m)^\+\s+name: mysecret$`)
		wantContains(t, mustFail(t, "get", "secret", "mysecret", "-n", ns), "NotFound")
	})

	t.Run("server-side", func(t *testing.T) {
		changed := manifest(t, "configmap.yaml", `player_initial_lives: "3"`, `player_initial_lives: "7"`)
		r := kubectl(t, "diff", "--server-side", "--force-conflicts", "-f", changed, "-n", ns)
		if r.Code != 1 {
			t.Fatalf("diff --server-side of a changed manifest: want exit 1, got\n%s", r)
		}
		if !regexp.MustCompile(`(?m)^\+\s+player_initial_lives: "7"$`).MatchString(r.Stdout) {
			t.Errorf("diff --server-side: no +player_initial_lives line in\n%s", r.Stdout)
		}
	})
}
