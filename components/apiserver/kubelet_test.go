package apiserver_test

// pods/log and pods/exec end to end: client-go -> this API server -> a
// kubelet API (the real components/kubelet/server, over HTTPS with a client
// certificate) whose Host is a fake. The API server finds the kubelet the
// way it finds a real one: pod.spec.nodeName -> Node status.addresses and
// daemonEndpoints.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"

	"github.com/kubelab/kubelab/components/apiserver"
	"github.com/kubelab/kubelab/components/kubelet/runtime"
	"github.com/kubelab/kubelab/components/kubelet/server"
	"github.com/kubelab/kubelab/components/pki"
)

// nodeHost is the fake kubelet core: the pods the test bound to the node,
// one log file per container, and a shell that knows echo, cat and exit.
type nodeHost struct {
	mu   sync.Mutex
	pods []*corev1.Pod
	logs map[string]string // container -> CRI log file
	done chan struct{}
}

func (h *nodeHost) ContainerLog(ns, pod, ctr string, previous bool) (string, <-chan struct{}, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	path, ok := h.logs[ctr]
	if !ok || previous {
		return "", nil, fmt.Errorf("previous terminated container %q in pod %q: %w", ctr, pod, server.ErrNotFound)
	}
	return path, h.done, nil
}

func (h *nodeHost) Exec(ctx context.Context, ns, pod, uid, ctr string, cfg runtime.ExecConfig) (int, error) {
	switch cfg.Cmd[0] {
	case "exit":
		return strconv.Atoi(cfg.Cmd[1])
	case "cat":
		_, err := io.Copy(cfg.Stdout, cfg.Stdin)
		return 0, err
	}
	fmt.Fprintf(cfg.Stdout, "%s in %s/%s/%s", strings.Join(cfg.Cmd[1:], " "), ns, pod, ctr)
	return 0, nil
}

func (h *nodeHost) Pods() []*corev1.Pod {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pods
}

// kubeletEnv is an API server wired to one fake node's kubelet.
type kubeletEnv struct {
	cs      kubernetes.Interface
	cfg     *rest.Config
	host    *nodeHost
	node    string
	logFile string
}

func startKubeletEnv(t *testing.T, ctx context.Context) *kubeletEnv {
	t.Helper()
	dir := t.TempDir()
	// The kubelet's CA signs its serving certificate (127.0.0.1) and the
	// API server's kubelet-client certificate; each side trusts it.
	ca, err := pki.NewCA("kubelet-ca", 0)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "kubelet-ca.crt")
	issue := func(spec pki.CertSpec, name string) (string, string) {
		t.Helper()
		kp, err := ca.Issue(spec)
		if err != nil {
			t.Fatal(err)
		}
		c, k := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		if err := kp.WriteFiles(c, k); err != nil {
			t.Fatal(err)
		}
		return c, k
	}
	if err := ca.WriteFiles(caFile, filepath.Join(dir, "kubelet-ca.key")); err != nil {
		t.Fatal(err)
	}
	servingCert, servingKey := issue(pki.CertSpec{CommonName: "system:node:n1", Server: true, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}, "kubelet")
	clientCert, clientKey := issue(pki.CertSpec{CommonName: "kube-apiserver-kubelet-client", Client: true}, "apiserver-kubelet-client")

	env := &kubeletEnv{host: &nodeHost{done: make(chan struct{}), logs: map[string]string{}},
		node: "kubelet-test-" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10), logFile: filepath.Join(dir, "app.log")}
	if err := os.WriteFile(env.logFile, []byte(
		"2026-01-01T00:00:01Z stdout F one\n2026-01-01T00:00:02Z stderr F two\n2026-01-01T00:00:03Z stdout F three\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env.host.logs["app"] = env.logFile
	ks, err := server.New(server.Options{Host: env.host, TLSCertFile: servingCert, TLSPrivateKeyFile: servingKey,
		ClientCAFile: caFile, LogPollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	kl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(context.Background())
	kdone := make(chan error, 1)
	go func() { kdone <- ks.Serve(serveCtx, kl) }()

	// A second API server on the shared etcd, with the --kubelet-* flags.
	al, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pkiDir := filepath.Join(testCP.Dir, "pki")
	srv, err := apiserver.New(serveCtx, apiserver.Options{EtcdServers: []string{testCP.EtcdURL}, BindAddress: "127.0.0.1", Listener: al,
		TLSCertFile: filepath.Join(pkiDir, "apiserver.crt"), TLSPrivateKeyFile: filepath.Join(pkiDir, "apiserver.key"),
		ClientCAFile:             filepath.Join(pkiDir, "ca.crt"),
		KubeletClientCertificate: clientCert, KubeletClientKey: clientKey, KubeletCertificateAuthority: caFile})
	if err != nil {
		t.Fatal(err)
	}
	adone := make(chan error, 1)
	go func() { adone <- srv.Serve(serveCtx) }()
	t.Cleanup(func() {
		stop()
		<-kdone
		<-adone
	})
	env.cfg = rest.CopyConfig(testConfig)
	env.cfg.Host = "https://" + al.Addr().String()
	env.cs = kubernetes.NewForConfigOrDie(env.cfg)

	// The node as its kubelet would register it.
	port := kl.Addr().(*net.TCPAddr).Port
	node, err := env.cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: env.node}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.cs.CoreV1().Nodes().Delete(context.Background(), env.node, metav1.DeleteOptions{})
	})
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1.invalid"}, {Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	if _, err := env.cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return env
}

// addPod creates a pod (bound to the node unless unbound) and tells the
// fake kubelet about it.
func (e *kubeletEnv) addPod(t *testing.T, ctx context.Context, ns, name string, bound bool, containers ...string) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c, Image: "busybox"})
	}
	if bound {
		pod.Spec.NodeName = e.node
	}
	out, err := e.cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.host.mu.Lock()
	e.host.pods = append(e.host.pods, out)
	e.host.mu.Unlock()
}

func TestPodLogsThroughKubelet(t *testing.T) {
	ctx, _, _, ns := setup(t)
	env := startKubeletEnv(t, ctx)
	env.addPod(t, ctx, ns, "web", true, "app", "sidecar")
	env.addPod(t, ctx, ns, "solo", true, "app")
	env.addPod(t, ctx, ns, "pending", false, "app")
	pods := env.cs.CoreV1().Pods(ns)

	read := func(name string, opts *corev1.PodLogOptions) (string, error) {
		rc, err := pods.GetLogs(name, opts).Stream(ctx)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}
	two := int64(2)
	tests := []struct {
		name, pod string
		opts      corev1.PodLogOptions
		want      string
		wantErr   string
	}{
		{name: "all", pod: "web", opts: corev1.PodLogOptions{Container: "app"}, want: "one\ntwo\nthree\n"},
		{name: "tail and timestamps", pod: "web", opts: corev1.PodLogOptions{Container: "app", TailLines: &two, Timestamps: true},
			want: "2026-01-01T00:00:02Z two\n2026-01-01T00:00:03Z three\n"},
		{name: "the only container is the default", pod: "solo", want: "one\ntwo\nthree\n"},
		{name: "unscheduled pod has no logs yet", pod: "pending", want: ""},
		{name: "two containers need a name", pod: "web", wantErr: "a container name must be specified for pod web, choose one of: [app sidecar]"},
		{name: "unknown container", pod: "web", opts: corev1.PodLogOptions{Container: "nope"}, wantErr: "container nope is not valid for pod web"},
		{name: "kubelet's 404 passes through", pod: "web", opts: corev1.PodLogOptions{Container: "sidecar", Previous: true},
			wantErr: `previous terminated container "sidecar" in pod "web": not found`},
		{name: "invalid options", pod: "web", opts: corev1.PodLogOptions{Container: "app", LimitBytes: new(int64)}, wantErr: "limitBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := read(tt.pod, &tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}

	t.Run("follow", func(t *testing.T) {
		rc, err := pods.GetLogs("web", &corev1.PodLogOptions{Container: "app", Follow: true, TailLines: new(int64)}).Stream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		br := bufio.NewReader(rc)
		f, err := os.OpenFile(env.logFile, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, line := range []string{"four", "five"} {
			if _, err := fmt.Fprintf(f, "2026-01-01T00:00:09Z stdout F %s\n", line); err != nil {
				t.Fatal(err)
			}
			// Each line arrives on its own: the stream is flushed through.
			if got, err := br.ReadString('\n'); err != nil || got != line+"\n" {
				t.Fatalf("followed %q, %v; want %q", got, err, line)
			}
		}
		close(env.host.done) // the container exits: the follow ends
		if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
			t.Fatalf("after the container exited: %q, %v; want the stream to end", rest, err)
		}
	})
}

func TestPodExecThroughKubelet(t *testing.T) {
	ctx, _, _, ns := setup(t)
	env := startKubeletEnv(t, ctx)
	env.addPod(t, ctx, ns, "web", true, "app", "sidecar")
	env.addPod(t, ctx, ns, "pending", false, "app")

	executors := map[string]func(name string, o *corev1.PodExecOptions) (remotecommand.Executor, error){
		"spdy": func(name string, o *corev1.PodExecOptions) (remotecommand.Executor, error) {
			u := env.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(name).SubResource("exec").VersionedParams(o, scheme.ParameterCodec).URL()
			return remotecommand.NewSPDYExecutor(env.cfg, "POST", u)
		},
		"websocket": func(name string, o *corev1.PodExecOptions) (remotecommand.Executor, error) {
			u := env.cs.CoreV1().RESTClient().Get().Resource("pods").Namespace(ns).Name(name).SubResource("exec").VersionedParams(o, scheme.ParameterCodec).URL()
			return remotecommand.NewWebSocketExecutor(env.cfg, "GET", u.String())
		},
	}
	tests := []struct {
		name, pod string
		cmd       []string
		stdin     string
		want      string
		wantCode  int
		wantErr   string
	}{
		{name: "stdout", pod: "web", cmd: []string{"echo", "hi"}, want: "hi in " + ns + "/web/app"},
		{name: "stdin", pod: "web", cmd: []string{"cat"}, stdin: "typed\n", want: "typed\n"},
		{name: "exit code", pod: "web", cmd: []string{"exit", "7"}, wantCode: 7},
		{name: "unscheduled", pod: "pending", cmd: []string{"echo"}, wantErr: "does not have a host assigned"},
	}
	for proto, newExec := range executors {
		for _, tt := range tests {
			t.Run(proto+"/"+tt.name, func(t *testing.T) {
				o := &corev1.PodExecOptions{Container: "app", Command: tt.cmd, Stdout: true, Stderr: true, Stdin: tt.stdin != ""}
				ex, err := newExec(tt.pod, o)
				if err != nil {
					t.Fatal(err)
				}
				var stdout, stderr bytes.Buffer
				so := remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}
				if tt.stdin != "" {
					so.Stdin = strings.NewReader(tt.stdin)
				}
				sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				err = ex.StreamWithContext(sctx, so)
				switch {
				case tt.wantErr != "":
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("err = %v, want %q", err, tt.wantErr)
					}
					return
				case tt.wantCode != 0:
					ce, ok := err.(exec.CodeExitError)
					if !ok || ce.Code != tt.wantCode {
						t.Fatalf("err = %v (%T), want exit code %d", err, err, tt.wantCode)
					}
				case err != nil:
					t.Fatal(err)
				}
				if stdout.String() != tt.want {
					t.Errorf("stdout %q (stderr %q), want %q", stdout.String(), stderr.String(), tt.want)
				}
			})
		}
	}

	// Without an upgrade there is nothing to proxy.
	body, err := env.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name("web").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: "app", Command: []string{"ls"}, Stdout: true}, scheme.ParameterCodec).DoRaw(ctx)
	if !apierrors.IsBadRequest(err) || !strings.Contains(string(body), "Upgrade request required") {
		t.Errorf("exec without upgrade: %v %s, want 400 Upgrade request required", err, body)
	}
}
