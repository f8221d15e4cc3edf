package compat

import (
	"strings"
	"testing"
)

// TestDelete covers kubectl delete: single objects, -f, --all, -l, the
// cascade modes and namespaces.
func TestDelete(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "delete")

	t.Run("single object", func(t *testing.T) {
		mustKubectl(t, "create", "configmap", "doomed", "--from-literal=k=v", "-n", ns)
		out := mustKubectl(t, "delete", "configmap", "doomed", "-n", ns)
		wantLine(t, out, `configmap "doomed" deleted from `+ns+` namespace`)
		wantContains(t, mustFail(t, "get", "configmap", "doomed", "-n", ns), `configmaps "doomed" not found`)
		// Again: NotFound, unless --ignore-not-found.
		wantContains(t, mustFail(t, "delete", "configmap", "doomed", "-n", ns),
			`Error from server (NotFound): configmaps "doomed" not found`)
		r := kubectl(t, "delete", "configmap", "doomed", "--ignore-not-found", "-n", ns)
		if r.Code != 0 || r.Stdout != "" {
			t.Errorf("delete --ignore-not-found of a missing object: want exit 0 and no output, got\n%s", r)
		}
	})

	t.Run("type/name and several names", func(t *testing.T) {
		for _, n := range []string{"a", "b", "c"} {
			mustKubectl(t, "create", "configmap", n, "-n", ns)
		}
		out := mustKubectl(t, "delete", "configmap/a", "configmap/b", "-n", ns)
		wantLine(t, out, `configmap "a" deleted from `+ns+` namespace`)
		wantLine(t, out, `configmap "b" deleted from `+ns+` namespace`)
		out = mustKubectl(t, "delete", "configmap", "c", "-n", ns, "-o", "name")
		wantEqual(t, "-o name", out, "configmap/c")
	})

	t.Run("unscheduled pod", func(t *testing.T) {
		// A pod that no node runs is deleted at once (no kubelet to wait for).
		mustKubectl(t, "create", "-f", manifest(t, "pod.yaml"), "-n", ns)
		out := mustKubectl(t, "delete", "pod", "nginx", "-n", ns, "--timeout=30s")
		wantLine(t, out, `pod "nginx" deleted from `+ns+` namespace`)
		wantContains(t, mustFail(t, "get", "pod", "nginx", "-n", ns), "NotFound")
	})

	t.Run("force", func(t *testing.T) {
		mustKubectl(t, "create", "-f", manifest(t, "pod.yaml"), "-n", ns)
		r := kubectl(t, "delete", "pod", "nginx", "--grace-period=0", "--force", "-n", ns)
		if r.Code != 0 {
			t.Fatalf("delete --force:\n%s", r)
		}
		wantLine(t, r.Stdout, `pod "nginx" force deleted from `+ns+` namespace`)
		wantContains(t, r.Stderr, "Immediate deletion does not wait for confirmation")
	})

	t.Run("-f", func(t *testing.T) {
		app := manifest(t, "nginx-app.yaml")
		mustKubectl(t, "apply", "-f", app, "-n", ns)
		out := mustKubectl(t, "delete", "-f", app, "-n", ns)
		wantLine(t, out, `service "my-nginx-svc" deleted from `+ns+` namespace`)
		wantLine(t, out, `deployment.apps "my-nginx" deleted from `+ns+` namespace`)
		wantLine(t, out, `configmap "game-demo" deleted from `+ns+` namespace`)
		r := kubectl(t, "get", "-f", app, "-n", ns)
		wantContains(t, r.Stderr, `services "my-nginx-svc" not found`, `deployments.apps "my-nginx" not found`)
	})

	t.Run("-l", func(t *testing.T) {
		for _, n := range []string{"red1", "red2", "blue1"} {
			mustKubectl(t, "create", "configmap", n, "-n", ns)
			mustKubectl(t, "label", "configmap", n, "color="+strings.TrimRight(n, "12"), "-n", ns)
		}
		out := mustKubectl(t, "delete", "configmap", "-l", "color=red", "-n", ns)
		wantLine(t, out, `configmap "red1" deleted from `+ns+` namespace`)
		wantLine(t, out, `configmap "red2" deleted from `+ns+` namespace`)
		wantEqual(t, "left", mustKubectl(t, "get", "cm", "-l", "color", "-o", "name", "-n", ns), "configmap/blue1")
	})

	t.Run("--all", func(t *testing.T) {
		other := newNamespace(t, "delete-all")
		mustKubectl(t, "apply", "-n", other, "-f", manifest(t, "nginx-app.yaml"), "-f", manifest(t, "secret.yaml"))
		for _, n := range []string{"x", "y"} {
			mustKubectl(t, "create", "configmap", n, "-n", other)
		}
		out := mustKubectl(t, "delete", "configmaps", "--all", "-n", other)
		for _, n := range []string{"game-demo", "x", "y"} {
			wantLine(t, out, `configmap "`+n+`" deleted from `+other+` namespace`)
		}
		// kube-root-ca.crt was deleted too, and the root CA publisher puts
		// it back (as in any cluster); the others are gone for good.
		eventually(t, defaultWait, "only kube-root-ca.crt left", func() error {
			if got := strings.TrimSpace(mustKubectl(t, "get", "configmaps", "-o", "name", "-n", other)); got != "configmap/kube-root-ca.crt" {
				return errorf("configmaps: %q", got)
			}
			return nil
		})

		// "all" is the category: services and deployments, not secrets.
		out = mustKubectl(t, "delete", "all", "--all", "-n", other)
		wantLine(t, out, `service "my-nginx-svc" deleted from `+other+` namespace`)
		wantLine(t, out, `deployment.apps "my-nginx" deleted from `+other+` namespace`)
		wantEqual(t, "secret kept", mustKubectl(t, "get", "secrets", "-o", "name", "-n", other), "secret/mysecret")
	})

	t.Run("--dry-run=server", func(t *testing.T) {
		mustKubectl(t, "create", "configmap", "kept", "-n", ns)
		out := mustKubectl(t, "delete", "configmap", "kept", "--dry-run=server", "-n", ns)
		wantLine(t, out, `configmap "kept" deleted from `+ns+` namespace (server dry run)`)
		mustKubectl(t, "get", "configmap", "kept", "-n", ns)
	})

	t.Run("--cascade=orphan", func(t *testing.T) {
		if !haveGarbageCollector {
			t.Skip("needs the garbage collector")
		}
		mustKubectl(t, "apply", "-f", manifest(t, "nginx-deployment.yaml"), "-n", ns)
		rs := createOwnedReplicaSet(t, ns, "nginx-deployment")
		out := mustKubectl(t, "delete", "deployment", "nginx-deployment", "--cascade=orphan", "-n", ns)
		wantLine(t, out, `deployment.apps "nginx-deployment" deleted from `+ns+` namespace`)
		// The dependent stays, without its owner reference.
		eventually(t, defaultWait, "orphaned replicaset loses its ownerReference", func() error {
			if refs := jsonpath(t, "{.metadata.ownerReferences}", "rs", rs, "-n", ns); refs != "" {
				return errorf("ownerReferences = %s", refs)
			}
			return nil
		})
	})

	t.Run("--cascade=foreground", func(t *testing.T) {
		if !haveGarbageCollector {
			t.Skip("needs the garbage collector")
		}
		mustKubectl(t, "apply", "-f", manifest(t, "nginx-deployment.yaml", "name: nginx-deployment", "name: fg"), "-n", ns)
		rs := createOwnedReplicaSet(t, ns, "fg")
		out := mustKubectl(t, "delete", "deployment", "fg", "--cascade=foreground", "-n", ns, "--timeout=60s")
		wantLine(t, out, `deployment.apps "fg" deleted from `+ns+` namespace`)
		// kubectl waited for the owner, which waits for its dependents.
		wantContains(t, mustFail(t, "get", "rs", rs, "-n", ns), "NotFound")
		wantContains(t, mustFail(t, "get", "deploy", "fg", "-n", ns), "NotFound")
	})

	t.Run("--cascade=background", func(t *testing.T) {
		if !haveGarbageCollector {
			t.Skip("needs the garbage collector")
		}
		mustKubectl(t, "apply", "-f", manifest(t, "nginx-deployment.yaml", "name: nginx-deployment", "name: bg"), "-n", ns)
		rs := createOwnedReplicaSet(t, ns, "bg")
		mustKubectl(t, "delete", "deployment", "bg", "-n", ns)
		eventually(t, defaultWait, "dependent replicaset deleted", func() error {
			if r := kubectl(t, "get", "rs", rs, "-n", ns); r.Code == 0 {
				return errorf("replicaset %s still exists", rs)
			}
			return nil
		})
	})
}

// createOwnedReplicaSet creates a ReplicaSet owned by the named Deployment
// (as the deployment controller would) and returns its name.
func createOwnedReplicaSet(t *testing.T, ns, deploy string) string {
	t.Helper()
	uid := jsonpath(t, "{.metadata.uid}", "deploy", deploy, "-n", ns)
	name := deploy + "-owned"
	rs := `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: ` + name + `
  labels:
    app: nginx
  ownerReferences:
  - apiVersion: apps/v1
    kind: Deployment
    name: ` + deploy + `
    uid: ` + uid + `
    controller: true
    blockOwnerDeletion: true
spec:
  replicas: 0
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.14.2
`
	r := kubectlStdin(t, rs, "create", "-f", "-", "-n", ns)
	if r.Code != 0 {
		t.Fatalf("create owned replicaset:\n%s", r)
	}
	return name
}

// TestDeleteNamespace covers deleting a namespace: it turns Terminating, and
// nothing new may be created in it. Emptying it is the namespace
// controller's job.
func TestDeleteNamespace(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "doomed")
	// A finalizer on an object inside holds the namespace in Terminating
	// (the namespace controller cannot finish emptying it) until the test
	// releases it below.
	held := `apiVersion: v1
kind: ConfigMap
metadata:
  name: inside
  finalizers: ["example.com/hold"]
data:
  k: v
`
	if r := kubectlStdin(t, held, "create", "-f", "-", "-n", ns); r.Code != 0 {
		t.Fatalf("create held configmap:\n%s", r)
	}

	out := mustKubectl(t, "delete", "namespace", ns, "--wait=false")
	wantLine(t, out, `namespace "`+ns+`" deleted`)
	wantEqual(t, "phase", jsonpath(t, "{.status.phase}", "ns", ns), "Terminating")
	wantMatch(t, jsonpath(t, "{.metadata.deletionTimestamp}", "ns", ns), `^\d{4}-\d\d-\d\dT`)
	tb := parseTable(t, mustKubectl(t, "get", "ns", ns))
	wantEqual(t, "STATUS", tb.row(t, "NAME", ns)["STATUS"], "Terminating")

	stderr := mustFail(t, "create", "configmap", "late", "-n", ns)
	wantContains(t, stderr, "unable to create new content in namespace "+ns+" because it is being terminated")
	stderr = mustFail(t, "apply", "-f", manifest(t, "secret.yaml"), "-n", ns)
	wantContains(t, stderr, "Error from server (Forbidden)", "because it is being terminated")

	t.Run("emptied and removed", func(t *testing.T) {
		if !haveNamespaceController {
			t.Skip("needs the namespace controller")
		}
		// Release the held object; kubectl delete then waits until the
		// namespace is gone: the controller has emptied and finalized it.
		mustKubectl(t, "patch", "configmap", "inside", "-n", ns, "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
		out := mustKubectl(t, "delete", "namespace", ns, "--timeout=60s")
		wantLine(t, out, `namespace "`+ns+`" deleted`)
		wantContains(t, mustFail(t, "get", "ns", ns), `namespaces "`+ns+`" not found`)
		wantContains(t, mustFail(t, "get", "configmap", "inside", "-n", ns), "NotFound")
	})

	t.Run("protected", func(t *testing.T) {
		stderr := mustFail(t, "delete", "namespace", "default")
		wantContains(t, stderr, `Error from server (Forbidden): namespaces "default" is forbidden: this namespace may not be deleted`)
	})
}
