package daemonset_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes"
)

// fluentdManifest is the example from the "DaemonSet" page of the
// Kubernetes documentation, unchanged.
const fluentdManifest = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: fluentd-elasticsearch
  namespace: kube-system
  labels:
    k8s-app: fluentd-logging
spec:
  selector:
    matchLabels:
      name: fluentd-elasticsearch
  template:
    metadata:
      labels:
        name: fluentd-elasticsearch
    spec:
      tolerations:
      # these tolerations are to have the daemonset runnable on control plane nodes
      # remove them if your control plane nodes should not run pods
      - key: node-role.kubernetes.io/control-plane
        operator: Exists
        effect: NoSchedule
      - key: node-role.kubernetes.io/master
        operator: Exists
        effect: NoSchedule
      containers:
      - name: fluentd-elasticsearch
        image: quay.io/fluentd_elasticsearch/fluentd:v5.0.1
        resources:
          limits:
            memory: 200Mi
          requests:
            cpu: 100m
            memory: 200Mi
        volumeMounts:
        - name: varlog
          mountPath: /var/log
      # it may be desirable to set a high priority class to ensure that a DaemonSet Pod
      # preempts running Pods
      # priorityClassName: important
      terminationGracePeriodSeconds: 30
      volumes:
      - name: varlog
        hostPath:
          path: /var/log
`

// testKubectl drives the DaemonSet "logging/fluentd-elasticsearch" (two
// revisions, rolled out) with the real kubectl: rollout status, history and
// undo; then applies the documentation's manifest. Skipped without kubectl.
func testKubectl(ctx context.Context, t *testing.T, kubeconfig string, kube kubernetes.Interface) {
	t.Helper()
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Log("kubectl not on PATH: skipping the kubectl checks")
		return
	}
	kubectl := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	contains := func(out, want string) {
		t.Helper()
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
	const ds = "daemonset/fluentd-elasticsearch"
	contains(kubectl("rollout", "status", ds, "-n", "logging", "--timeout=30s"), `daemon set "fluentd-elasticsearch" successfully rolled out`)
	hist := kubectl("rollout", "history", ds, "-n", "logging")
	contains(hist, "\n1 ")
	contains(hist, "\n2 ")
	contains(kubectl("rollout", "history", ds, "-n", "logging", "--revision=2"), "fluentd:v5.0.2")

	contains(kubectl("rollout", "undo", ds, "-n", "logging"), "rolled back")
	waitRolledOutIn(ctx, t, kube, "logging", "fluentd-elasticsearch", "undo", "quay.io/fluentd_elasticsearch/fluentd:v5.0.1")
	hist = kubectl("rollout", "history", ds, "-n", "logging")
	contains(hist, "\n2 ")
	contains(hist, "\n3 ") // revision 1's template, renumbered
	if strings.Contains(hist, "\n1 ") {
		t.Errorf("revision 1 should have become 3:\n%s", hist)
	}

	file := filepath.Join(t.TempDir(), "fluentd.yaml")
	if err := os.WriteFile(file, []byte(fluentdManifest), 0o600); err != nil {
		t.Fatal(err)
	}
	go fakeKubelet(ctx, kube, "kube-system")
	kubectl("apply", "-f", file)
	contains(kubectl("rollout", "status", ds, "-n", "kube-system", "--timeout=60s"), `daemon set "fluentd-elasticsearch" successfully rolled out`)
	waitRolledOutIn(ctx, t, kube, "kube-system", "fluentd-elasticsearch", "docs manifest", "quay.io/fluentd_elasticsearch/fluentd:v5.0.1")
	t.Log(kubectl("get", "pods", "-n", "kube-system", "-o", "wide"))
	t.Log(kubectl("describe", ds, "-n", "kube-system"))
}
