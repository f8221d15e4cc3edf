package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubelab/kubelab/components/kubelet/images"
	"github.com/kubelab/kubelab/components/kubelet/runtime"
	"github.com/kubelab/kubelab/components/kubelet/server"
	"github.com/kubelab/kubelab/components/pki"
)

// imageStore is a kubelet core for the real kubelet API server: no pods,
// and an image store that remembers the archives it was given.
type imageStore struct {
	spool string
	mu    sync.Mutex
	got   []string // archive contents
}

func (h *imageStore) ContainerLog(string, string, string, bool) (string, <-chan struct{}, error) {
	return "", nil, server.ErrNotFound
}

func (h *imageStore) Exec(context.Context, string, string, string, string, runtime.ExecConfig) (int, error) {
	return 0, server.ErrNotFound
}

func (h *imageStore) Pods() []*corev1.Pod   { return nil }
func (h *imageStore) ImageSpoolDir() string { return h.spool }
func (h *imageStore) Images() []server.ImageInfo {
	return []server.ImageInfo{{Names: []string{"localhost/kubelab/busybox@sha256:1111", "localhost/kubelab/busybox:v1"},
		ID: "sha256:0123456789abcdef", Size: 3 << 20}}
}

func (h *imageStore) LoadImages(_ context.Context, path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, string(b))
	return []string{"docker.io/library/nginx:1.27"}, nil
}

func (h *imageStore) archives() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

// imageCluster is a CA, a fake API server serving Nodes, and kubelets.
type imageCluster struct {
	t          *testing.T
	dir        string
	ca         *pki.CA
	caFile     string
	nodes      []corev1.Node
	kubeconfig string
}

func newImageCluster(t *testing.T) *imageCluster {
	t.Helper()
	c := &imageCluster{t: t, dir: t.TempDir()}
	var err error
	if c.ca, err = pki.NewCA("image-test-ca", 0); err != nil {
		t.Fatal(err)
	}
	c.caFile = filepath.Join(c.dir, "ca.crt")
	if err := c.ca.WriteFiles(c.caFile, filepath.Join(c.dir, "ca.key")); err != nil {
		t.Fatal(err)
	}
	api := httptest.NewUnstartedServer(http.HandlerFunc(c.serveAPI))
	api.TLS = &tls.Config{Certificates: []tls.Certificate{c.serving(t, c.ca)}}
	api.StartTLS()
	t.Cleanup(api.Close)
	admin, err := c.ca.Issue(pki.CertSpec{CommonName: "admin", Organizations: []string{"system:masters"}, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	kc := pki.Kubeconfig{ClusterName: "test", Server: api.URL, CAPEM: c.ca.CertPEM, ClientCertPEM: admin.CertPEM, ClientKeyPEM: admin.KeyPEM}
	if err := kc.Write(c.kubeconfig); err != nil {
		t.Fatal(err)
	}
	return c
}

// serving is a 127.0.0.1 serving certificate from ca.
func (c *imageCluster) serving(t *testing.T, ca *pki.CA) tls.Certificate {
	kp, err := ca.Issue(pki.CertSpec{CommonName: "127.0.0.1", Server: true, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := kp.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// serveAPI answers the two requests the image commands make.
func (c *imageCluster) serveAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/api/v1/nodes" {
		_ = json.NewEncoder(w).Encode(corev1.NodeList{TypeMeta: metav1.TypeMeta{Kind: "NodeList", APIVersion: "v1"}, Items: c.nodes})
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/api/v1/nodes/")
	for _, n := range c.nodes {
		if n.Name == name {
			_ = json.NewEncoder(w).Encode(n)
			return
		}
	}
	w.WriteHeader(http.StatusNotFound)
	_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
		Reason: metav1.StatusReasonNotFound, Code: 404, Message: fmt.Sprintf("nodes %q not found", name),
		Details: &metav1.StatusDetails{Name: name, Kind: "nodes"}})
}

// addKubelet starts a real kubelet API server over an imageStore and
// registers its Node. servingCA signs its serving certificate (nil: the
// cluster CA); it always trusts the cluster CA for clients.
func (c *imageCluster) addKubelet(name string, servingCA *pki.CA) *imageStore {
	h := &imageStore{spool: c.t.TempDir()}
	c.addKubeletHost(name, servingCA, h)
	return h
}

// logsOnly is a kubelet core without images (server.ImageHost).
type logsOnly struct{ h *imageStore }

func (l logsOnly) ContainerLog(ns, pod, ctr string, prev bool) (string, <-chan struct{}, error) {
	return l.h.ContainerLog(ns, pod, ctr, prev)
}
func (l logsOnly) Exec(ctx context.Context, ns, pod, uid, ctr string, cfg runtime.ExecConfig) (int, error) {
	return l.h.Exec(ctx, ns, pod, uid, ctr, cfg)
}
func (l logsOnly) Pods() []*corev1.Pod { return nil }

func (c *imageCluster) addKubeletHost(name string, servingCA *pki.CA, h server.Host) {
	t := c.t
	t.Helper()
	if servingCA == nil {
		servingCA = c.ca
	}
	kp, err := servingCA.Issue(pki.CertSpec{CommonName: name, Server: true, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(c.dir, name+".crt"), filepath.Join(c.dir, name+".key")
	if err := kp.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{Host: h, TLSCertFile: certFile, TLSPrivateKeyFile: keyFile, ClientCAFile: c.caFile})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	c.addNode(name, l.Addr().(*net.TCPAddr).Port, nil)
}

func (c *imageCluster) addNode(name string, port int, labels map[string]string) {
	c.nodes = append(c.nodes, corev1.Node{
		TypeMeta:   metav1.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status: corev1.NodeStatus{
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(port)}},
		},
	})
}

func (c *imageCluster) run(args ...string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return run(c.t, ctx, append(args, "--kubeconfig", c.kubeconfig)...)
}

func writeTestArchive(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "images.tar")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImageLoad(t *testing.T) {
	c := newImageCluster(t)
	a, b := c.addKubelet("node-a", nil), c.addKubelet("node-b", nil)
	c.addNode("hollow-1", 10250, map[string]string{"type": "hollow"})
	archive := writeTestArchive(t, "the archive")

	tests := []struct {
		name    string
		args    []string
		wantErr string
		wantOut string
		wantA   int // archives node-a receives
		wantB   int
	}{
		{"several nodes need --node", []string{archive}, "choose one with --node NAME, or use --all-nodes", "", 0, 0},
		{"one node", []string{"--node", "node-b", archive}, "", "loaded docker.io/library/nginx:1.27", 0, 1},
		{"all nodes", []string{"--all-nodes", archive}, "", "into node node-a", 1, 1},
		{"hollow node", []string{"--node", "hollow-1", archive}, "hollow node", "", 0, 0},
		{"unknown node", []string{"--node", "nope", archive}, `node nope: nodes "nope" not found`, "", 0, 0},
		{"node and all-nodes", []string{"--node", "node-a", "--all-nodes", archive}, "exclude each other", "", 0, 0},
		{"missing archive", []string{"--node", "node-a", "/no/such.tar"}, "image archive: stat /no/such.tar", "", 0, 0},
		{"directory", []string{"--node", "node-a", t.TempDir()}, "tar it first", "", 0, 0},
		{"no file", nil, "accepts 1 arg(s)", "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			beforeA, beforeB := len(a.archives()), len(b.archives())
			out, err := c.run(append([]string{"image", "load"}, tt.args...)...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q\n%s", err, tt.wantErr, out)
				}
			} else if err != nil {
				t.Fatalf("image load: %v\n%s", err, out)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("output %q does not contain %q", out, tt.wantOut)
			}
			if gotA, gotB := len(a.archives())-beforeA, len(b.archives())-beforeB; gotA != tt.wantA || gotB != tt.wantB {
				t.Errorf("node-a got %d archives, node-b %d; want %d and %d", gotA, gotB, tt.wantA, tt.wantB)
			}
			for _, got := range append(a.archives(), b.archives()...) {
				if got != "the archive" {
					t.Errorf("a kubelet received %q, want the archive's bytes", got)
				}
			}
		})
	}
}

func TestImageLoadSingleNodeNeedsNoFlag(t *testing.T) {
	c := newImageCluster(t)
	h := c.addKubelet("only", nil)
	out, err := c.run("image", "load", writeTestArchive(t, "x"))
	if err != nil || len(h.archives()) != 1 || !strings.Contains(out, "IfNotPresent") {
		t.Fatalf("load onto the only node: %v, %d archives\n%s", err, len(h.archives()), out)
	}
}

func TestImageList(t *testing.T) {
	c := newImageCluster(t)
	c.addKubelet("node-a", nil)
	c.addKubelet("node-b", nil)
	out, err := c.run("image", "ls")
	if err != nil {
		t.Fatalf("image ls: %v\n%s", err, out)
	}
	for _, want := range []string{"NODE", "node-a", "node-b", "localhost/kubelab/busybox:v1", "0123456789ab", "3.0 MiB"} {
		if !strings.Contains(out, want) {
			t.Errorf("image ls output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "@sha256") {
		t.Errorf("image ls shows digests of tagged images:\n%s", out)
	}
	out, err = c.run("image", "ls", "--node", "node-b")
	if err != nil || strings.Contains(out, "node-a") || !strings.Contains(out, "node-b") {
		t.Errorf("image ls --node node-b: %v\n%s", err, out)
	}
}

func TestImageKubeletCertificateNotTrusted(t *testing.T) {
	c := newImageCluster(t)
	other, err := pki.NewCA("self-signed-kubelet", 0)
	if err != nil {
		t.Fatal(err)
	}
	h := c.addKubelet("odd", other)
	archive := writeTestArchive(t, "x")
	_, err = c.run("image", "load", archive)
	if err == nil || !strings.Contains(err.Error(), "--insecure-skip-tls-verify-backend") {
		t.Fatalf("an untrusted kubelet certificate gave %v, want a hint at --insecure-skip-tls-verify-backend", err)
	}
	if out, err := c.run("image", "load", "--insecure-skip-tls-verify-backend", archive); err != nil || len(h.archives()) != 1 {
		t.Fatalf("with --insecure-skip-tls-verify-backend: %v, %d archives\n%s", err, len(h.archives()), out)
	}
}

// TestImageLoadRefused: a kubelet without image endpoints refuses before
// the archive is sent ("Expect: 100-continue"), and the user reads why.
func TestImageLoadRefused(t *testing.T) {
	c := newImageCluster(t)
	c.addKubeletHost("old", nil, logsOnly{&imageStore{}})
	big := filepath.Join(t.TempDir(), "big.tar")
	if err := os.WriteFile(big, make([]byte, 16<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := c.run("image", "load", big)
	if err == nil || !strings.Contains(err.Error(), "501") || !strings.Contains(err.Error(), "no image endpoints") {
		t.Fatalf("load onto a kubelet without images: %v, want a 501 with a hint", err)
	}
	if _, err := c.run("image", "ls"); err == nil || !strings.Contains(err.Error(), "no image endpoints") {
		t.Fatalf("ls on a kubelet without images: %v", err)
	}
}

func TestImageNeedsClientCertificate(t *testing.T) {
	c := newImageCluster(t)
	c.addKubelet("n", nil)
	kc := pki.Kubeconfig{ClusterName: "token", Server: "https://127.0.0.1:1", CAPEM: c.ca.CertPEM, Token: "abc"}
	if err := kc.Write(c.kubeconfig); err != nil {
		t.Fatal(err)
	}
	if _, err := c.run("image", "ls"); err == nil || !strings.Contains(err.Error(), "no client certificate") {
		t.Fatalf("a token kubeconfig gave %v, want a no-client-certificate error", err)
	}
}

func TestUploadProgress(t *testing.T) {
	old := progressEvery
	progressEvery = time.Millisecond
	t.Cleanup(func() { progressEvery = old })
	pr, pw := io.Pipe()
	body := &progressReader{r: pr, sent: new(atomic.Int64), done: make(chan struct{})}
	out := &syncBuffer{}
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() { reportProgress(Streams{Err: out}, "n", body, 2048, stop); close(finished) }()
	go func() { _, _ = io.Copy(io.Discard, body) }()
	if _, err := pw.Write(make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	waitForText(t, out, "1.0 KiB of 2.0 KiB sent (50%)")
	pw.Close()
	waitForText(t, out, "importing")
	close(stop)
	<-finished
}

func waitForText(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %q", want, out.String())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestImageBuild(t *testing.T) {
	busybox := "/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("needs a static /bin/busybox (apt-get install busybox-static)")
	}
	dir := filepath.Join(t.TempDir(), "out")
	// Any static binary of the right architecture will do for /testserver.
	out, err := run(t, context.Background(), "image", "build", "-o", dir, "--busybox", busybox, "--testserver", busybox)
	if err != nil {
		t.Fatalf("image build: %v\n%s", err, out)
	}
	st, err := os.Stat(filepath.Join(dir, archiveName))
	if err != nil || st.Size() == 0 {
		t.Fatalf("no archive: %v", err)
	}
	for _, want := range []string{"localhost/kubelab/busybox:v1", "localhost/kubelab/testserver:v1", "kubelab image load --all-nodes"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
}

func TestImageHelpTeaches(t *testing.T) {
	for _, tt := range []struct {
		cmd  []string
		want []string
	}{
		{[]string{"image", "--help"}, []string{"docker save", "crane pull --format=tarball", "OCI", "--all-nodes"}},
		{[]string{"image", "load", "--help"}, []string{"IfNotPresent", "--insecure-skip-tls-verify-backend", "--node"}},
		{[]string{"image", "build", "--help"}, []string{"busybox-static", "Vagrant", "-o, --output"}},
	} {
		out, err := run(t, context.Background(), tt.cmd...)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s does not mention %q", strings.Join(tt.cmd, " "), w)
			}
		}
	}
}

func TestSourceTree(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "cmd", "testserver"), 0o755); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "components", "cli")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		gomod string
		want  bool
	}{
		{"module github.com/kubelab/kubelab\n\ngo 1.26.0\n", true},
		{"module example.com/other\n", false},
	} {
		if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte(tt.gomod), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, ok := sourceTree(deep); ok != tt.want || (ok && got != root) {
			t.Errorf("sourceTree with go.mod %q = %q, %v; want %v", tt.gomod, got, ok, tt.want)
		}
	}
}

// storeHost is a kubelet core over the real image store, as the kubelet
// wires it (components/kubelet/imagehost.go).
type storeHost struct {
	logsOnly
	store *images.Store
	spool string
}

func (h storeHost) ImageSpoolDir() string { return h.spool }
func (h storeHost) LoadImages(ctx context.Context, path string) ([]string, error) {
	return h.store.Load(ctx, path)
}
func (h storeHost) Images() []server.ImageInfo {
	var out []server.ImageInfo
	for _, img := range h.store.List() {
		out = append(out, server.ImageInfo{Names: img.Names(), ID: img.ID, Size: img.Size})
	}
	return out
}

// TestImageBuildLoadList is the whole flow with real archives and a real
// store: build the kit's images, load them onto a node, list them.
func TestImageBuildLoadList(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs a static /bin/busybox (apt-get install busybox-static)")
	}
	dir := t.TempDir()
	if out, err := run(t, context.Background(), "image", "build", "-o", dir, "--busybox", "/bin/busybox", "--testserver", "/bin/busybox"); err != nil {
		t.Fatalf("image build: %v\n%s", err, out)
	}
	storeDir := t.TempDir()
	store, err := images.NewStore(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	c := newImageCluster(t)
	c.addKubeletHost("node-0", nil, storeHost{logsOnly: logsOnly{&imageStore{}}, store: store, spool: filepath.Join(storeDir, "tmp")})
	out, err := c.run("image", "load", filepath.Join(dir, archiveName))
	if err != nil {
		t.Fatalf("image load: %v\n%s", err, out)
	}
	for _, want := range []string{"loaded localhost/kubelab/busybox:v1", "loaded localhost/kubelab/testserver:v1"} {
		if !strings.Contains(out, want) {
			t.Errorf("load output lacks %q:\n%s", want, out)
		}
	}
	if out, err = c.run("image", "ls"); err != nil || !strings.Contains(out, "localhost/kubelab/testserver:v1") {
		t.Errorf("image ls: %v\n%s", err, out)
	}
	if left, _ := os.ReadDir(filepath.Join(storeDir, "tmp")); len(left) != 0 {
		t.Errorf("upload left files behind: %v", left)
	}
}
