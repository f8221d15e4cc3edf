package compat

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestGet covers kubectl get: the server-side tables (the real columns),
// the output formats, selectors, sorting and label columns.
func TestGet(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "get")
	mustKubectl(t, "apply", "-n", ns, "-f", manifest(t, "nginx-deployment.yaml"), "-f", manifest(t, "service.yaml"),
		"-f", manifest(t, "configmap.yaml"), "-f", manifest(t, "secret.yaml"), "-f", manifest(t, "pod.yaml"),
		"-f", manifest(t, "job.yaml"))
	// Three labelled ConfigMaps, created out of name order.
	for _, cm := range [][2]string{{"charlie", "frontend"}, {"alpha", "frontend"}, {"bravo", "backend"}} {
		mustKubectl(t, "create", "configmap", cm[0], "--from-literal=k=v", "-n", ns)
		mustKubectl(t, "label", "configmap", cm[0], "app="+cm[1], "-n", ns)
	}
	// The scheduler, the controllers and the suite's hollow nodes bring
	// everything to its steady state; the tables below show that state.
	mustKubectl(t, "rollout", "status", "deployment/nginx-deployment", "-n", ns, "--timeout=90s")
	mustKubectl(t, "wait", "--for=condition=Ready", "pod/nginx", "-n", ns, "--timeout=60s")
	mustKubectl(t, "wait", "--for=condition=Complete", "job/pi", "-n", ns, "--timeout=60s")

	t.Run("deployments", func(t *testing.T) {
		tb := parseTable(t, mustKubectl(t, "get", "deploy", "-n", ns))
		tb.wantHeader(t, "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE")
		r := tb.row(t, "NAME", "nginx-deployment")
		wantEqual(t, "READY", r["READY"], "3/3")
		wantEqual(t, "UP-TO-DATE", r["UP-TO-DATE"], "3")
		wantEqual(t, "AVAILABLE", r["AVAILABLE"], "3")
		wantMatch(t, r["AGE"], `^\d+[smhd][0-9smh]*$`)
	})

	t.Run("deployments -o wide", func(t *testing.T) {
		tb := parseTable(t, mustKubectl(t, "get", "deploy", "nginx-deployment", "-o", "wide", "-n", ns))
		tb.wantHeader(t, "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR")
		r := tb.row(t, "NAME", "nginx-deployment")
		wantEqual(t, "CONTAINERS", r["CONTAINERS"], "nginx")
		wantEqual(t, "IMAGES", r["IMAGES"], "nginx:1.14.2")
		wantEqual(t, "SELECTOR", r["SELECTOR"], "app=nginx")
	})

	t.Run("pods -o wide", func(t *testing.T) {
		tb := parseTable(t, mustKubectl(t, "get", "pods", "-o", "wide", "-n", ns))
		tb.wantHeader(t, "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES")
		r := tb.row(t, "NAME", "nginx")
		wantEqual(t, "READY", r["READY"], "1/1")
		wantEqual(t, "STATUS", r["STATUS"], "Running")
		wantEqual(t, "RESTARTS", r["RESTARTS"], "0")
		wantMatch(t, r["IP"], `^\d+\.\d+\.\d+\.\d+$`)
		wantMatch(t, r["NODE"], `^`+nodePrefix+`\d$`)
	})

	t.Run("services", func(t *testing.T) {
		tb := parseTable(t, mustKubectl(t, "get", "svc", "-n", ns, "-o", "wide"))
		tb.wantHeader(t, "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR")
		r := tb.row(t, "NAME", "my-service")
		wantEqual(t, "TYPE", r["TYPE"], "ClusterIP")
		wantMatch(t, r["CLUSTER-IP"], `^\d+\.\d+\.\d+\.\d+$`)
		wantEqual(t, "EXTERNAL-IP", r["EXTERNAL-IP"], "<none>")
		wantEqual(t, "PORT(S)", r["PORT(S)"], "80/TCP")
		wantEqual(t, "SELECTOR", r["SELECTOR"], "app.kubernetes.io/name=MyApp")
	})

	t.Run("configmaps secrets jobs namespaces", func(t *testing.T) {
		tb := parseTable(t, mustKubectl(t, "get", "cm", "game-demo", "-n", ns))
		tb.wantHeader(t, "NAME", "DATA", "AGE")
		wantEqual(t, "DATA", tb.row(t, "NAME", "game-demo")["DATA"], "4")

		tb = parseTable(t, mustKubectl(t, "get", "secret", "mysecret", "-n", ns))
		tb.wantHeader(t, "NAME", "TYPE", "DATA", "AGE")
		r := tb.row(t, "NAME", "mysecret")
		wantEqual(t, "TYPE", r["TYPE"], "Opaque")
		wantEqual(t, "DATA", r["DATA"], "2")

		tb = parseTable(t, mustKubectl(t, "get", "job", "pi", "-n", ns))
		tb.wantHeader(t, "NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE")
		wantEqual(t, "COMPLETIONS", tb.row(t, "NAME", "pi")["COMPLETIONS"], "1/1")

		tb = parseTable(t, mustKubectl(t, "get", "ns", ns))
		tb.wantHeader(t, "NAME", "STATUS", "AGE")
		wantEqual(t, "STATUS", tb.row(t, "NAME", ns)["STATUS"], "Active")
	})

	t.Run("all", func(t *testing.T) {
		out := mustKubectl(t, "get", "all", "-n", ns)
		wantContains(t, out, "pod/nginx", "service/my-service", "deployment.apps/nginx-deployment", "job.batch/pi")
		wantNotContains(t, out, "configmap/", "secret/")
	})

	t.Run("-o yaml", func(t *testing.T) {
		out := mustKubectl(t, "get", "deploy", "nginx-deployment", "-o", "yaml", "-n", ns)
		for _, l := range []string{"apiVersion: apps/v1", "kind: Deployment", "  name: nginx-deployment",
			"  namespace: " + ns, "  replicas: 3", "      app: nginx", "      - image: nginx:1.14.2"} {
			wantLine(t, out, strings.TrimSpace(l))
		}
		wantMatch(t, out, `(?m)^  resourceVersion: "\d+"$`, `(?m)^  uid: [0-9a-f-]{36}$`,
			`(?m)^  creationTimestamp: "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"$`)
	})

	t.Run("-o json", func(t *testing.T) {
		d := getJSON(t, "deploy", "nginx-deployment", "-n", ns)
		if d["kind"] != "Deployment" || d["apiVersion"] != "apps/v1" {
			t.Errorf("kind/apiVersion = %v/%v", d["kind"], d["apiVersion"])
		}
		spec := d["spec"].(map[string]any)
		// Defaults a real server fills in.
		checks := map[string]any{
			"replicas": float64(3), "revisionHistoryLimit": float64(10), "progressDeadlineSeconds": float64(600),
		}
		for k, v := range checks {
			if spec[k] != v {
				t.Errorf("spec.%s = %v, want %v", k, spec[k], v)
			}
		}
		strategy, _ := json.Marshal(spec["strategy"])
		wantEqual(t, "spec.strategy", string(strategy), `{"rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"},"type":"RollingUpdate"}`)
		pod := spec["template"].(map[string]any)["spec"].(map[string]any)
		for k, v := range map[string]string{"restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler"} {
			if pod[k] != v {
				t.Errorf("spec.template.spec.%s = %v, want %v", k, pod[k], v)
			}
		}
		c := pod["containers"].([]any)[0].(map[string]any)
		if c["imagePullPolicy"] != "IfNotPresent" {
			t.Errorf("imagePullPolicy = %v, want IfNotPresent", c["imagePullPolicy"])
		}
		port := c["ports"].([]any)[0].(map[string]any)
		if port["protocol"] != "TCP" {
			t.Errorf("containerPort protocol = %v, want TCP", port["protocol"])
		}

		list := getJSON(t, "cm", "-n", ns)
		if list["kind"] != "List" {
			t.Errorf("list kind = %v, want List", list["kind"])
		}
		if items, _ := list["items"].([]any); len(items) < 4 {
			t.Errorf("list has %d items, want at least 4", len(items))
		}
	})

	t.Run("-o jsonpath", func(t *testing.T) {
		wantEqual(t, "image", jsonpath(t, "{.spec.template.spec.containers[0].image}", "deploy", "nginx-deployment", "-n", ns), "nginx:1.14.2")
		names := jsonpath(t, `{range .items[*]}{.metadata.name}{"\n"}{end}`, "cm", "-l", "app", "-n", ns)
		wantEqual(t, "names", names, "alpha\nbravo\ncharlie")
		wantEqual(t, "filter", jsonpath(t, `{.items[?(@.metadata.labels.app=="backend")].metadata.name}`, "cm", "-n", ns), "bravo")
	})

	t.Run("-o name", func(t *testing.T) {
		out := mustKubectl(t, "get", "deploy,svc", "-o", "name", "-n", ns)
		wantEqual(t, "-o name", out, "deployment.apps/nginx-deployment\nservice/my-service")
	})

	t.Run("-o custom-columns", func(t *testing.T) {
		tb := parseTable(t, mustKubectl(t, "get", "cm", "-l", "app", "-n", ns, "-o", "custom-columns=NAME:.metadata.name,APP:.metadata.labels.app"))
		tb.wantHeader(t, "NAME", "APP")
		wantEqual(t, "APP", tb.row(t, "NAME", "bravo")["APP"], "backend")
	})

	t.Run("-A", func(t *testing.T) {
		tb := parseTable(t, mustKubectl(t, "get", "cm", "-A"))
		tb.wantHeader(t, "NAMESPACE", "NAME", "DATA", "AGE")
		found := false
		for _, r := range tb.Rows {
			if r[0] == ns && r[1] == "game-demo" {
				found = true
			}
		}
		if !found {
			t.Errorf("get cm -A: no row for %s/game-demo in %q", ns, tb.Rows)
		}
		tb = parseTable(t, mustKubectl(t, "get", "ns"))
		tb.row(t, "NAME", ns)
		tb.row(t, "NAME", "default")
	})

	t.Run("-l", func(t *testing.T) {
		wantEqual(t, "app=frontend", mustKubectl(t, "get", "cm", "-l", "app=frontend", "-o", "name", "-n", ns),
			"configmap/alpha\nconfigmap/charlie")
		wantEqual(t, "app in (backend)", mustKubectl(t, "get", "cm", "-l", "app in (backend)", "-o", "name", "-n", ns),
			"configmap/bravo")
		wantEqual(t, "app,app!=frontend", mustKubectl(t, "get", "cm", "-l", "app,app!=frontend", "-o", "name", "-n", ns),
			"configmap/bravo")
		r := kubectl(t, "get", "cm", "-l", "app=nobody", "-n", ns)
		if r.Code != 0 || r.Stdout != "" {
			t.Errorf("get -l app=nobody: want exit 0 and no output, got\n%s", r)
		}
		wantContains(t, r.Stderr, "No resources found in "+ns+" namespace.")
	})

	t.Run("--field-selector", func(t *testing.T) {
		wantEqual(t, "metadata.name=alpha", mustKubectl(t, "get", "cm", "--field-selector", "metadata.name=alpha", "-o", "name", "-n", ns),
			"configmap/alpha")
		out := mustKubectl(t, "get", "cm", "-l", "app", "--field-selector", "metadata.name!=alpha", "-o", "name", "-n", ns)
		wantEqual(t, "metadata.name!=alpha", out, "configmap/bravo\nconfigmap/charlie")
		wantMatch(t, mustKubectl(t, "get", "pods", "--field-selector", "status.phase=Succeeded", "-o", "name", "-n", ns),
			`^pod/pi-[a-z0-9]{5}\n?$`)
		out = mustKubectl(t, "get", "cm", "-A", "--field-selector", "metadata.namespace="+ns+",metadata.name=bravo", "-o", "name")
		wantEqual(t, "metadata.namespace", out, "configmap/bravo")
		// Unknown field labels: 400, in the upstream wording (kinds without
		// field selectors of their own, and pods).
		stderr := mustFail(t, "get", "cm", "--field-selector", "spec.foo=x", "-n", ns)
		wantContains(t, stderr, "Error from server (BadRequest)",
			`"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"`)
		stderr = mustFail(t, "get", "pods", "--field-selector", "spec.foo=x", "-n", ns)
		wantContains(t, stderr, "Error from server (BadRequest)", "field label not supported: spec.foo")
	})

	t.Run("--sort-by", func(t *testing.T) {
		tb := parseTable(t, mustKubectl(t, "get", "cm", "-l", "app", "--sort-by=.metadata.name", "-n", ns))
		tb.wantHeader(t, "NAME", "DATA", "AGE")
		wantEqual(t, "order", strings.Join(tb.names(), " "), "alpha bravo charlie")
		tb = parseTable(t, mustKubectl(t, "get", "cm", "-l", "app", "--sort-by={.metadata.labels.app}", "-n", ns))
		wantEqual(t, "order by label", tb.names()[0], "bravo")
	})

	t.Run("--show-labels and -L", func(t *testing.T) {
		tb := parseTable(t, mustKubectl(t, "get", "cm", "alpha", "--show-labels", "-n", ns))
		tb.wantHeader(t, "NAME", "DATA", "AGE", "LABELS")
		wantEqual(t, "LABELS", tb.row(t, "NAME", "alpha")["LABELS"], "app=frontend")
		tb = parseTable(t, mustKubectl(t, "get", "deploy", "--show-labels", "-n", ns))
		wantEqual(t, "LABELS", tb.row(t, "NAME", "nginx-deployment")["LABELS"], "app=nginx")
		tb = parseTable(t, mustKubectl(t, "get", "cm", "-l", "app", "-L", "app", "-n", ns))
		tb.wantHeader(t, "NAME", "DATA", "AGE", "APP")
		wantEqual(t, "APP", tb.row(t, "NAME", "charlie")["APP"], "frontend")
	})

	t.Run("--no-headers", func(t *testing.T) {
		out := mustKubectl(t, "get", "cm", "-l", "app", "--no-headers", "-n", ns)
		wantNotContains(t, out, "NAME")
		if n := len(strings.Split(strings.TrimSpace(out), "\n")); n != 3 {
			t.Errorf("want 3 lines, got %d:\n%s", n, out)
		}
	})

	t.Run("--subresource=scale", func(t *testing.T) {
		out := mustKubectl(t, "get", "deploy", "nginx-deployment", "--subresource=scale", "-n", ns, "-o", "jsonpath={.kind} {.spec.replicas}")
		wantEqual(t, "scale", out, "Scale 3")
	})
}

// TestWatch covers get -w, --watch-only and --output-watch-events.
func TestWatch(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "watch")
	mustKubectl(t, "create", "configmap", "alpha", "--from-literal=k=v", "-n", ns)

	t.Run("get -w", func(t *testing.T) {
		w := startKubectl(t, "get", "cm", "-w", "-n", ns)
		w.expect(t, `^NAME\s+DATA\s+AGE$`, 30*time.Second)
		w.expect(t, `^alpha\s+1\s+\d+[smhd][0-9smh]*$`, 10*time.Second)
		mustKubectl(t, "create", "configmap", "bravo", "--from-literal=a=b", "--from-literal=c=d", "-n", ns)
		w.expect(t, `^bravo\s+2\s+\d+[smhd][0-9smh]*$`, 15*time.Second)
		mustKubectl(t, "label", "configmap", "alpha", "seen=yes", "-n", ns)
		w.expect(t, `^alpha\s+1\s+\d+[smhd][0-9smh]*$`, 15*time.Second)
		w.stop()
	})

	t.Run("--watch-only", func(t *testing.T) {
		w := startKubectl(t, "get", "cm", "--watch-only", "-n", ns)
		// Existing objects are not printed; give kubectl time to list.
		w.quiet(t, `^(alpha|bravo)\s`, 2*time.Second)
		mustKubectl(t, "create", "configmap", "charlie", "--from-literal=k=v", "-n", ns)
		w.expect(t, `^charlie\s+1\s+\d+[smhd][0-9smh]*$`, 15*time.Second)
		wantNotContains(t, w.output(), "alpha", "bravo")
		w.stop()
	})

	t.Run("--output-watch-events", func(t *testing.T) {
		w := startKubectl(t, "get", "cm", "--watch-only", "--output-watch-events", "-n", ns)
		w.quiet(t, `^ADDED\s+(alpha|bravo|charlie)\s`, 2*time.Second)
		mustKubectl(t, "create", "configmap", "delta", "--from-literal=k=v", "-n", ns)
		w.expect(t, `^ADDED\s+delta\s+1\s+\d+[smhd][0-9smh]*$`, 15*time.Second)
		mustKubectl(t, "annotate", "configmap", "delta", "note=hi", "-n", ns)
		w.expect(t, `^MODIFIED\s+delta\s+1\s+\d+[smhd][0-9smh]*$`, 15*time.Second)
		mustKubectl(t, "delete", "configmap", "delta", "-n", ns)
		w.expect(t, `^DELETED\s+delta\s+1\s+\d+[smhd][0-9smh]*$`, 15*time.Second)
		w.stop()
	})

	t.Run("-w -o name on a single object", func(t *testing.T) {
		w := startKubectl(t, "get", "cm", "alpha", "-w", "-o", "name", "-n", ns)
		w.expect(t, `^configmap/alpha$`, 30*time.Second)
		mustKubectl(t, "annotate", "configmap", "alpha", "note=again", "-n", ns)
		w.expect(t, `^configmap/alpha$`, 15*time.Second)
		w.stop()
	})
}
