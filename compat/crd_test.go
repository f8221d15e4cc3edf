package compat

import (
	"strings"
	"testing"
	"time"
)

// TestCustomResources is the round trip of "Extend the Kubernetes API with
// CustomResourceDefinitions": the CronTab CRD, a CronTab, get/patch/delete.
func TestCustomResources(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "crd")
	const crd = "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com"
	const ct = "crontab.stable.example.com/my-new-cron-object"
	crdFile := manifest(t, "crontab-crd.yaml")

	t.Run("create the CRD", func(t *testing.T) {
		wantLine(t, mustKubectl(t, "apply", "-f", crdFile), crd+" created")
		out := mustKubectl(t, "wait", "--for", "condition=established", "--timeout=60s", "crd/crontabs.stable.example.com")
		wantLine(t, out, crd+" condition met")
		tb := parseTable(t, mustKubectl(t, "get", "crd", "crontabs.stable.example.com"))
		tb.wantHeader(t, "NAME", "CREATED AT")
		wantMatch(t, tb.row(t, "NAME", "crontabs.stable.example.com")["CREATED AT"], `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
		wantEqual(t, "NamesAccepted", jsonpath(t, `{.status.conditions[?(@.type=="NamesAccepted")].status}`, "crd", "crontabs.stable.example.com"), "True")
		wantEqual(t, "acceptedNames.kind", jsonpath(t, "{.status.acceptedNames.kind}", "crd", "crontabs.stable.example.com"), "CronTab")
	})

	t.Run("server-side apply the CRD", func(t *testing.T) {
		// Apply needs the CRD's own schema in the server's type converter.
		wantLine(t, mustKubectl(t, "apply", "--server-side", "--force-conflicts", "-f", crdFile), crd+" serverside-applied")
		managers := jsonpath(t, `{range .metadata.managedFields[*]}{.manager}:{.operation}{"\n"}{end}`, "crd", "crontabs.stable.example.com")
		wantLine(t, managers, "kubectl:Apply")
	})

	t.Run("discovery", func(t *testing.T) {
		resetCache(t)
		eventually(t, defaultWait, "crontabs in discovery", func() error {
			resetCache(t)
			r := kubectl(t, "api-resources", "--api-group=stable.example.com")
			if !strings.Contains(r.Stdout, "crontabs") {
				return errorf("api-resources --api-group=stable.example.com:\n%s", r)
			}
			return nil
		})
		tb := parseTable(t, mustKubectl(t, "api-resources", "--api-group=stable.example.com"))
		r := tb.row(t, "NAME", "crontabs")
		got := strings.Join([]string{r["SHORTNAMES"], r["APIVERSION"], r["NAMESPACED"], r["KIND"]}, " ")
		wantEqual(t, "crontabs row", got, "ct stable.example.com/v1 true CronTab")
		wantLine(t, mustKubectl(t, "api-versions"), "stable.example.com/v1")
	})

	t.Run("create a CronTab", func(t *testing.T) {
		wantLine(t, mustKubectl(t, "apply", "-f", manifest(t, "crontab.yaml"), "-n", ns), ct+" created")
		wantLine(t, mustKubectl(t, "apply", "-f", manifest(t, "crontab.yaml"), "-n", ns), ct+" unchanged")
	})

	t.Run("get", func(t *testing.T) {
		for _, name := range []string{"crontab", "crontabs", "ct", "crontabs.stable.example.com", "crontabs.v1.stable.example.com"} {
			tb := parseTable(t, mustKubectl(t, "get", name, "-n", ns))
			// The additionalPrinterColumns.
			tb.wantHeader(t, "NAME", "SPEC", "REPLICAS", "AGE")
			r := tb.row(t, "NAME", "my-new-cron-object")
			wantEqual(t, "SPEC ("+name+")", r["SPEC"], "* * * * */5")
			wantMatch(t, r["AGE"], `^\d+[smhd][0-9smh]*$`)
		}
		yaml := mustKubectl(t, "get", "ct", "my-new-cron-object", "-n", ns, "-o", "yaml")
		wantContains(t, yaml, "apiVersion: stable.example.com/v1", "kind: CronTab", "image: my-awesome-cron-image")
		wantMatch(t, yaml, `cronSpec: ['"]\* \* \* \* \*/5['"]`, `(?m)^  uid: [0-9a-f-]{36}$`, `(?m)^  namespace: `+ns+`$`)
		wantEqual(t, "jsonpath", jsonpath(t, "{.spec.image}", "ct", "my-new-cron-object", "-n", ns), "my-awesome-cron-image")
		wantEqual(t, "-o name", mustKubectl(t, "get", "ct", "-o", "name", "-n", ns), ct)
		wantEqual(t, "-l", mustKubectl(t, "get", "ct", "-l", "nope", "-o", "name", "-n", ns), "")
		all := mustKubectl(t, "get", "ct", "-A")
		wantMatch(t, all, `(?m)^`+ns+`\s+my-new-cron-object\s+`)
	})

	t.Run("patch", func(t *testing.T) {
		out := mustKubectl(t, "patch", "ct", "my-new-cron-object", "--type=merge", "-p", `{"spec":{"replicas":3}}`, "-n", ns)
		wantLine(t, out, ct+" patched")
		tb := parseTable(t, mustKubectl(t, "get", "ct", "-n", ns))
		wantEqual(t, "REPLICAS", tb.row(t, "NAME", "my-new-cron-object")["REPLICAS"], "3")
		out = mustKubectl(t, "patch", "ct", "my-new-cron-object", "--type=json", "-p", `[{"op":"replace","path":"/spec/image","value":"other-image"}]`, "-n", ns)
		wantLine(t, out, ct+" patched")
		wantEqual(t, "image", jsonpath(t, "{.spec.image}", "ct", "my-new-cron-object", "-n", ns), "other-image")
		// Custom resources have no strategic merge patch: the server answers
		// 415 and kubectl says so.
		stderr := mustFail(t, "patch", "ct", "my-new-cron-object", "-p", `{"spec":{"replicas":4}}`, "-n", ns)
		wantContains(t, stderr, "error: application/strategic-merge-patch+json is not supported by stable.example.com/v1, Kind=CronTab")
		// The generation follows spec changes.
		wantEqual(t, "generation", jsonpath(t, "{.metadata.generation}", "ct", "my-new-cron-object", "-n", ns), "3")
	})

	t.Run("label apply and server-side apply", func(t *testing.T) {
		wantLine(t, mustKubectl(t, "label", "ct", "my-new-cron-object", "tier=cron", "-n", ns), ct+" labeled")
		wantEqual(t, "-l", mustKubectl(t, "get", "ct", "-l", "tier=cron", "-o", "name", "-n", ns), ct)
		changed := manifest(t, "crontab.yaml", "image: my-awesome-cron-image", "image: my-newer-cron-image")
		wantLine(t, mustKubectl(t, "apply", "-f", changed, "-n", ns), ct+" configured")
		wantEqual(t, "image", jsonpath(t, "{.spec.image}", "ct", "my-new-cron-object", "-n", ns), "my-newer-cron-image")
		wantLine(t, mustKubectl(t, "apply", "--server-side", "--force-conflicts", "-f", manifest(t, "crontab.yaml"), "-n", ns), ct+" serverside-applied")
		wantEqual(t, "image", jsonpath(t, "{.spec.image}", "ct", "my-new-cron-object", "-n", ns), "my-awesome-cron-image")
	})

	t.Run("describe", func(t *testing.T) {
		out := mustKubectl(t, "describe", "ct", "my-new-cron-object", "-n", ns)
		wantMatch(t, out, `(?m)^Name:\s+my-new-cron-object$`, `(?m)^API Version:\s+stable.example.com/v1$`,
			`(?m)^Kind:\s+CronTab$`, `(?m)^\s+Image:\s+my-awesome-cron-image$`)
	})

	t.Run("watch", func(t *testing.T) {
		w := startKubectl(t, "get", "ct", "-w", "-n", ns)
		w.expect(t, `^NAME\s+SPEC\s+REPLICAS\s+AGE$`, 30*time.Second)
		w.expect(t, `^my-new-cron-object\s`, 10*time.Second)
		mustKubectl(t, "patch", "ct", "my-new-cron-object", "--type=merge", "-p", `{"spec":{"replicas":5}}`, "-n", ns)
		w.expect(t, `^my-new-cron-object\s+\* \* \* \* \*/5\s+5\s+`, 15*time.Second)
		w.stop()
	})

	t.Run("delete the CronTab", func(t *testing.T) {
		out := mustKubectl(t, "delete", "ct", "my-new-cron-object", "-n", ns, "--timeout=60s")
		wantLine(t, out, `crontab.stable.example.com "my-new-cron-object" deleted from `+ns+` namespace`)
		wantContains(t, mustFail(t, "get", "ct", "my-new-cron-object", "-n", ns),
			`Error from server (NotFound): crontabs.stable.example.com "my-new-cron-object" not found`)
	})

	t.Run("delete the CRD", func(t *testing.T) {
		out := mustKubectl(t, "delete", "-f", crdFile, "--timeout=60s")
		wantLine(t, out, `customresourcedefinition.apiextensions.k8s.io "crontabs.stable.example.com" deleted`)
		wantContains(t, mustFail(t, "get", "crd", "crontabs.stable.example.com"), "NotFound")
		eventually(t, defaultWait, "crontabs gone from discovery", func() error {
			resetCache(t)
			r := kubectl(t, "get", "crontabs", "-n", ns)
			if r.Code == 0 || !strings.Contains(r.Stderr, `the server doesn't have a resource type "crontabs"`) {
				return errorf("get crontabs after deleting the CRD:\n%s", r)
			}
			return nil
		})
	})
}
