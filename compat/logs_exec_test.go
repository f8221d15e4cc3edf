package compat

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// realPod is a pod for the real node: it tolerates the node's taint and is
// pinned to it with a nodeSelector, so the scheduler still binds it.
func realPod(name, script string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  nodeSelector:
    kubernetes.io/hostname: %s
  tolerations:
  - key: %s
    operator: Exists
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: localhost/kubelab/busybox:v1
    command: ["sh", "-c", %q]
`, name, realNode, realNodeTaint, script)
}

// TestLogsAndExec drives a real container through kubectl: the API server
// proxies `kubectl logs` and `kubectl exec` to the kubelet, which reads the
// container's log file and runs commands inside it with libcontainer.
func TestLogsAndExec(t *testing.T) {
	if !haveRealNode {
		t.Skip("no real node: the kubelet needs root (run the suite as root)")
	}
	t.Parallel()
	ns := newNamespace(t, "logs")
	r := kubectlStdin(t, realPod("talker", `for i in 1 2 3; do echo line $i; done; sleep 0.5; echo oops >&2; exec sleep 3600`), "apply", "-n", ns, "-f", "-")
	if r.Code != 0 {
		t.Fatalf("apply: %s", r)
	}
	mustKubectl(t, "wait", "-n", ns, "--for=condition=Ready", "pod/talker", "--timeout=60s")

	t.Run("logs", func(t *testing.T) {
		var out string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if out = mustKubectl(t, "logs", "-n", ns, "talker"); strings.Contains(out, "oops") {
				break
			}
		}
		wantEqual(t, "logs", out, "line 1\nline 2\nline 3\noops")
		wantEqual(t, "logs --tail=1", mustKubectl(t, "logs", "-n", ns, "talker", "--tail=1"), "oops")
		wantMatch(t, mustKubectl(t, "logs", "-n", ns, "talker", "-c", "main", "--timestamps", "--tail=1"),
			`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z oops\n$`)
		wantContains(t, mustFail(t, "logs", "-n", ns, "talker", "-c", "nope"), `container nope is not valid for pod talker`)
		wantContains(t, mustFail(t, "logs", "-n", ns, "talker", "--previous"), `previous terminated container "main" in pod "talker" not found`)
	})
	t.Run("exec", func(t *testing.T) {
		wantEqual(t, "exec hostname", mustKubectl(t, "exec", "-n", ns, "talker", "--", "hostname"), "talker")
		r := kubectl(t, "exec", "-n", ns, "talker", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
		if r.Code != 3 || r.Stdout != "out\n" || !strings.Contains(r.Stderr, "err") {
			t.Errorf("exec exit 3: %s", r)
		}
		in := kubectlStdin(t, "from stdin\n", "exec", "-i", "-n", ns, "talker", "--", "cat")
		if in.Code != 0 || in.Stdout != "from stdin\n" {
			t.Errorf("exec -i cat: %s", in)
		}
		wantContains(t, mustFail(t, "exec", "-n", ns, "talker", "--", "/no/such/binary"), "no/such/binary")
	})
	t.Run("port-forward", func(t *testing.T) {
		r := kubectlStdin(t, realPod("web", `mkdir -p /www && echo hello from web > /www/index.html && exec httpd -f -p 8080 -h /www`), "apply", "-n", ns, "-f", "-")
		if r.Code != 0 {
			t.Fatalf("apply: %s", r)
		}
		mustKubectl(t, "wait", "-n", ns, "--for=condition=Ready", "pod/web", "--timeout=60s")
		pf := startKubectl(t, "port-forward", "-n", ns, "pod/web", ":8080")
		line := pf.expect(t, `^Forwarding from 127\.0\.0\.1:\d+ -> 8080`, 30*time.Second)
		port := strings.TrimSuffix(strings.Fields(line)[2], "")
		port = port[strings.LastIndex(port, ":")+1:]
		for i := range 2 { // two connections through one port-forward
			var body []byte
			var err error
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				var resp *http.Response
				if resp, err = http.Get("http://127.0.0.1:" + port + "/"); err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					break
				}
			}
			if err != nil || strings.TrimSpace(string(body)) != "hello from web" {
				t.Fatalf("GET %d through port-forward: %q %v", i, body, err)
			}
		}
	})
	t.Run("run -i --rm", func(t *testing.T) {
		// kubectl run -i creates a pod whose container has stdin open,
		// waits for it to run, attaches (pods/attach, through the kubelet to
		// the container's monitor), and deletes it after.
		overrides := fmt.Sprintf(`{"spec":{"nodeSelector":{"kubernetes.io/hostname":%q},"tolerations":[{"key":%q,"operator":"Exists"}]}}`, realNode, realNodeTaint)
		r := kubectlStdin(t, "hi there\n", "run", "-i", "--rm", "-n", ns, "reader", "--image=localhost/kubelab/busybox:v1",
			"--restart=Never", "--overrides="+overrides, "--", "sh", "-c", "read x; echo got $x")
		if r.Code != 0 || !strings.Contains(r.Stdout, "got hi there") {
			t.Fatalf("run -i: %s", r)
		}
	})
	t.Run("logs -f ends with the container", func(t *testing.T) {
		r := kubectlStdin(t, realPod("counter", `for i in 1 2 3; do echo tick $i; sleep 0.3; done`), "apply", "-n", ns, "-f", "-")
		if r.Code != 0 {
			t.Fatalf("apply: %s", r)
		}
		waitPodPhase(t, ns, "counter", corev1.PodRunning, corev1.PodSucceeded)
		out := mustKubectl(t, "logs", "-f", "-n", ns, "counter")
		wantEqual(t, "logs -f", out, "tick 1\ntick 2\ntick 3")
	})
}

// waitPodPhase polls until the pod reaches one of phases.
func waitPodPhase(t *testing.T, ns, name string, phases ...corev1.PodPhase) {
	t.Helper()
	cfg, err := clientcmdConfig()
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		pod, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			for _, p := range phases {
				if pod.Status.Phase == p {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pod %s/%s never reached %v (last: %v, %v)", ns, name, phases, pod.Status.Phase, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func clientcmdConfig() (*rest.Config, error) {
	return clientcmd.BuildConfigFromFlags("", adminKubeconfig)
}
