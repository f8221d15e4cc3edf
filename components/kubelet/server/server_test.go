package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	restclient "k8s.io/client-go/rest"

	"github.com/kubelab/kubelab/components/kubelet/runtime"
	"github.com/kubelab/kubelab/components/pki"
)

// fakeHost is a kubelet core with one pod "web" (containers app, sidecar)
// in namespace "ns", whose logs and exec are whatever the test sets.
type fakeHost struct {
	mu   sync.Mutex
	logs map[string]string // "container" or "container/previous" -> path
	done map[string]chan struct{}
	err  error // returned by ContainerLog when set
	exec func(ctx context.Context, cfg runtime.ExecConfig) (int, error)
}

func (h *fakeHost) ContainerLog(ns, pod, ctr string, previous bool) (string, <-chan struct{}, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return "", nil, h.err
	}
	key := ctr
	if previous {
		key += "/previous"
	}
	path, ok := h.logs[key]
	if !ok {
		return "", nil, fmt.Errorf("previous terminated container %q in pod %q: %w", ctr, pod, ErrNotFound)
	}
	done, ok := h.done[key]
	if !ok {
		done = make(chan struct{})
		close(done)
	}
	return path, done, nil
}

func (h *fakeHost) Exec(ctx context.Context, ns, pod, uid, ctr string, cfg runtime.ExecConfig) (int, error) {
	return h.exec(ctx, cfg)
}

func (h *fakeHost) Pods() []*corev1.Pod {
	return []*corev1.Pod{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "uid-1"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}, {Name: "sidecar"}}},
	}}
}

// testPKI is a CA, the kubelet's serving certificate for 127.0.0.1 and the
// API server's client certificate, as files and as client TLS material.
type testPKI struct {
	caFile, certFile, keyFile    string
	caPEM, clientCert, clientKey []byte
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.NewCA("kubelet-test-ca", 0)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{caFile: filepath.Join(dir, "ca.crt"), certFile: filepath.Join(dir, "kubelet.crt"),
		keyFile: filepath.Join(dir, "kubelet.key"), caPEM: ca.CertPEM}
	if err := ca.WriteFiles(p.caFile, filepath.Join(dir, "ca.key")); err != nil {
		t.Fatal(err)
	}
	serving, err := ca.Issue(pki.CertSpec{CommonName: "system:node:test", Server: true, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := serving.WriteFiles(p.certFile, p.keyFile); err != nil {
		t.Fatal(err)
	}
	client, err := ca.Issue(pki.CertSpec{CommonName: "kube-apiserver-kubelet-client", Organizations: []string{"system:masters"}, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	p.clientCert, p.clientKey = client.CertPEM, client.KeyPEM
	return p
}

// startServer serves h on a loopback port and returns its base URL.
func startServer(t *testing.T, h Host) (string, *testPKI) {
	t.Helper()
	p := newTestPKI(t)
	s, err := New(Options{Host: h, TLSCertFile: p.certFile, TLSPrivateKeyFile: p.keyFile, ClientCAFile: p.caFile,
		LogPollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "https://" + l.Addr().String(), p
}

// restConfig is how the API server would reach the kubelet.
func (p *testPKI) restConfig(base string) *restclient.Config {
	return &restclient.Config{Host: base, TLSClientConfig: restclient.TLSClientConfig{
		CAData: p.caPEM, CertData: p.clientCert, KeyData: p.clientKey}}
}

// client is an HTTPS client trusting the CA, with or without the client
// certificate.
func (p *testPKI) client(t *testing.T, withCert bool) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	cfg := &tls.Config{RootCAs: pool}
	if withCert {
		cert, err := tls.X509KeyPair(p.clientCert, p.clientKey)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func TestAuthentication(t *testing.T) {
	base, p := startServer(t, &fakeHost{})
	tests := []struct {
		name     string
		withCert bool
		path     string
		want     int
	}{
		{"anonymous pods", false, "/pods", http.StatusUnauthorized},
		{"anonymous logs", false, "/containerLogs/ns/web/app", http.StatusUnauthorized},
		{"anonymous exec", false, "/exec/ns/web/app?command=ls&output=1", http.StatusUnauthorized},
		{"anonymous healthz", false, "/healthz", http.StatusOK},
		{"client cert pods", true, "/pods", http.StatusOK},
		{"port-forward not implemented", true, "/portForward/ns/web", http.StatusNotImplemented},
		{"attach without Attacher", true, "/attach/ns/web/app?output=1", http.StatusNotImplemented},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := get(t, p.client(t, tt.withCert), base+tt.path); code != tt.want {
				t.Errorf("GET %s: %d %q, want %d", tt.path, code, body, tt.want)
			}
		})
	}

	// A certificate from another CA fails the TLS handshake.
	other := newTestPKI(t)
	other.caPEM = p.caPEM // trust the server, present a stranger's certificate
	if _, err := other.client(t, true).Get(base + "/pods"); err == nil {
		t.Error("a client certificate from an unknown CA was accepted")
	}
}

func TestPods(t *testing.T) {
	base, p := startServer(t, &fakeHost{})
	code, body := get(t, p.client(t, true), base+"/pods")
	var list corev1.PodList
	if err := json.Unmarshal([]byte(body), &list); err != nil || code != http.StatusOK {
		t.Fatalf("/pods: %d %q %v", code, body, err)
	}
	if list.Kind != "PodList" || len(list.Items) != 1 || list.Items[0].Name != "web" {
		t.Errorf("/pods = %+v, want a PodList with web", list)
	}
}

func TestWriteErrorCodes(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("pod x: %w", ErrNotFound), http.StatusNotFound},
		{errors.New(`container "app" in pod "web" is waiting to start: ContainerCreating`), http.StatusBadRequest},
	} {
		rec := httptest.NewRecorder()
		writeError(rec, tt.err)
		if rec.Code != tt.want || !strings.Contains(rec.Body.String(), tt.err.Error()) {
			t.Errorf("writeError(%v) = %d %q, want %d with the message", tt.err, rec.Code, rec.Body.String(), tt.want)
		}
	}
}
