package compat

import (
	"net"
	"testing"
)

// TestCreate covers create -f (JSON bodies) and the create generators, which
// send protobuf bodies through client-go's typed clients.
func TestCreate(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "create")

	t.Run("-f deployment", func(t *testing.T) {
		out := mustKubectl(t, "create", "-f", manifest(t, "nginx-deployment.yaml"), "-n", ns)
		wantLine(t, out, "deployment.apps/nginx-deployment created")
		d := getJSON(t, "deploy", "nginx-deployment", "-n", ns)
		meta := d["metadata"].(map[string]any)
		for _, k := range []string{"uid", "resourceVersion", "creationTimestamp"} {
			if meta[k] == nil || meta[k] == "" {
				t.Errorf("metadata.%s not set: %v", k, meta)
			}
		}
		if meta["generation"] != float64(1) {
			t.Errorf("metadata.generation = %v, want 1", meta["generation"])
		}
		if meta["namespace"] != ns {
			t.Errorf("metadata.namespace = %v, want %s", meta["namespace"], ns)
		}
	})

	t.Run("-f secret", func(t *testing.T) {
		out := mustKubectl(t, "create", "-f", manifest(t, "secret.yaml"), "-n", ns)
		wantLine(t, out, "secret/mysecret created")
		wantEqual(t, "data.USER_NAME", jsonpath(t, "{.data.USER_NAME}", "secret", "mysecret", "-n", ns), "YWRtaW4=")
		wantEqual(t, "type", jsonpath(t, "{.type}", "secret", "mysecret", "-n", ns), "Opaque")
	})

	t.Run("-f job", func(t *testing.T) {
		out := mustKubectl(t, "create", "-f", manifest(t, "job.yaml"), "-n", ns)
		wantLine(t, out, "job.batch/pi created")
		wantEqual(t, "backoffLimit", jsonpath(t, "{.spec.backoffLimit}", "job", "pi", "-n", ns), "4")
		wantEqual(t, "command", jsonpath(t, "{.spec.template.spec.containers[0].command}", "job", "pi", "-n", ns),
			`["perl","-Mbignum=bpi","-wle","print bpi(2000)"]`)
		// The server defaults a Job's completions, parallelism and selector.
		wantEqual(t, "completions", jsonpath(t, "{.spec.completions}", "job", "pi", "-n", ns), "1")
		wantEqual(t, "parallelism", jsonpath(t, "{.spec.parallelism}", "job", "pi", "-n", ns), "1")
		uid := jsonpath(t, "{.metadata.uid}", "job", "pi", "-n", ns)
		wantEqual(t, "selector", jsonpath(t, `{.spec.selector.matchLabels.batch\.kubernetes\.io/controller-uid}`, "job", "pi", "-n", ns), uid)
		wantEqual(t, "template label", jsonpath(t, `{.spec.template.metadata.labels.batch\.kubernetes\.io/job-name}`, "job", "pi", "-n", ns), "pi")
	})

	t.Run("-f service", func(t *testing.T) {
		out := mustKubectl(t, "create", "-f", manifest(t, "service.yaml"), "-f", manifest(t, "service-nodeport.yaml"), "-n", ns)
		wantLine(t, out, "service/my-service created")
		wantLine(t, out, "service/my-nodeport-service created")
		ip := jsonpath(t, "{.spec.clusterIP}", "svc", "my-service", "-n", ns)
		if net.ParseIP(ip) == nil {
			t.Errorf("spec.clusterIP = %q, want an allocated address", ip)
		}
		np := jsonpath(t, "{.spec.ports[0].nodePort}", "svc", "my-nodeport-service", "-n", ns)
		wantMatch(t, np, `^3\d{4}$`)
	})

	t.Run("-f pod", func(t *testing.T) {
		out := mustKubectl(t, "create", "-f", manifest(t, "pod.yaml"), "-n", ns)
		wantLine(t, out, "pod/nginx created")
		// Scheduled onto a hollow node, which reports it Running.
		mustKubectl(t, "wait", "--for=jsonpath={.status.phase}=Running", "pod/nginx", "-n", ns, "--timeout=60s")
	})

	t.Run("deployment", func(t *testing.T) {
		out := mustKubectl(t, "create", "deployment", "web", "--image=nginx:1.14.2", "--replicas=2", "--port=80", "-n", ns)
		wantLine(t, out, "deployment.apps/web created")
		wantEqual(t, "replicas", jsonpath(t, "{.spec.replicas}", "deploy", "web", "-n", ns), "2")
		wantEqual(t, "selector", jsonpath(t, "{.spec.selector.matchLabels.app}", "deploy", "web", "-n", ns), "web")
		wantEqual(t, "port", jsonpath(t, "{.spec.template.spec.containers[0].ports[0].containerPort}", "deploy", "web", "-n", ns), "80")
		wantEqual(t, "strategy", jsonpath(t, "{.spec.strategy.type}", "deploy", "web", "-n", ns), "RollingUpdate")
	})

	t.Run("configmap", func(t *testing.T) {
		out := mustKubectl(t, "create", "configmap", "app-config", "--from-literal=color=blue", "--from-literal=size=large", "-n", ns)
		wantLine(t, out, "configmap/app-config created")
		wantEqual(t, "data", jsonpath(t, "{.data}", "cm", "app-config", "-n", ns), `{"color":"blue","size":"large"}`)

		file := writeFile(t, "game.properties", "enemies=aliens\nlives=3\n")
		out = mustKubectl(t, "create", "configmap", "game-config", "--from-file="+file, "-n", ns)
		wantLine(t, out, "configmap/game-config created")
		wantEqual(t, "data from file", jsonpath(t, `{.data.game\.properties}`, "cm", "game-config", "-n", ns), "enemies=aliens\nlives=3")
	})

	t.Run("secret generic", func(t *testing.T) {
		// From "Managing Secrets using kubectl".
		out := mustKubectl(t, "create", "secret", "generic", "db-user-pass",
			"--from-literal=username=admin", `--from-literal=password=S!B\*d$zDsb=`, "-n", ns)
		wantLine(t, out, "secret/db-user-pass created")
		wantEqual(t, "username", jsonpath(t, "{.data.username}", "secret", "db-user-pass", "-n", ns), "YWRtaW4=")
		wantEqual(t, "password", jsonpath(t, "{.data.password}", "secret", "db-user-pass", "-n", ns), "UyFCXCpkJHpEc2I9")
		wantEqual(t, "type", jsonpath(t, "{.type}", "secret", "db-user-pass", "-n", ns), "Opaque")
	})

	t.Run("namespace", func(t *testing.T) {
		name := uniqueName("created")
		out := mustKubectl(t, "create", "namespace", name)
		wantLine(t, out, "namespace/"+name+" created")
		wantEqual(t, "phase", jsonpath(t, "{.status.phase}", "ns", name), "Active")
	})

	t.Run("job", func(t *testing.T) {
		out := mustKubectl(t, "create", "job", "my-job", "--image=busybox", "-n", ns, "--", "date")
		wantLine(t, out, "job.batch/my-job created")
		wantEqual(t, "command", jsonpath(t, "{.spec.template.spec.containers[0].command}", "job", "my-job", "-n", ns), `["date"]`)
		wantEqual(t, "restartPolicy", jsonpath(t, "{.spec.template.spec.restartPolicy}", "job", "my-job", "-n", ns), "Never")
	})

	t.Run("cronjob", func(t *testing.T) {
		out := mustKubectl(t, "create", "cronjob", "my-cron", "--image=busybox", "--schedule=*/1 * * * *", "-n", ns, "--", "date")
		wantLine(t, out, "cronjob.batch/my-cron created")
		wantEqual(t, "schedule", jsonpath(t, "{.spec.schedule}", "cronjob", "my-cron", "-n", ns), "*/1 * * * *")
	})

	t.Run("service clusterip", func(t *testing.T) {
		out := mustKubectl(t, "create", "service", "clusterip", "my-cs", "--tcp=5678:8080", "-n", ns)
		wantLine(t, out, "service/my-cs created")
		wantEqual(t, "port", jsonpath(t, "{.spec.ports[0].port}:{.spec.ports[0].targetPort}:{.spec.ports[0].protocol}", "svc", "my-cs", "-n", ns), "5678:8080:TCP")
	})

	t.Run("dry-run=client -o yaml then create -f -", func(t *testing.T) {
		yaml := mustKubectl(t, "create", "deployment", "from-dry-run", "--image=nginx:1.14.2", "--dry-run=client", "-o", "yaml")
		wantContains(t, yaml, "kind: Deployment", "name: from-dry-run")
		r := kubectlStdin(t, yaml, "create", "-f", "-", "-n", ns)
		if r.Code != 0 {
			t.Fatalf("create -f -:\n%s", r)
		}
		wantLine(t, r.Stdout, "deployment.apps/from-dry-run created")
	})

	t.Run("dry-run=server", func(t *testing.T) {
		out := mustKubectl(t, "create", "configmap", "dry", "--from-literal=a=b", "--dry-run=server", "-n", ns)
		wantLine(t, out, "configmap/dry created (server dry run)")
		wantContains(t, mustFail(t, "get", "cm", "dry", "-n", ns), `configmaps "dry" not found`)
	})
}
