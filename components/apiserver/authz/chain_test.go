package authz

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubelab/kubelab/components/apiserver/authn"
	"github.com/kubelab/kubelab/components/pki"
)

// TestChainWithClientGo puts authn and authz in front of a fake pod list, serves it over TLS with
// certificates from pki, and calls it with a real client-go clientset built from kubeconfigs: the
// errors must come back as the typed Unauthorized and Forbidden errors kubectl shows.
func TestChainWithClientGo(t *testing.T) {
	t.Parallel()
	ca, err := pki.NewCA("kubelab-test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	serving, err := ca.Issue(pki.CertSpec{CommonName: "kubernetes", IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	servingCert, err := serving.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)

	// A stand-in for RBAC: members of system:masters may do anything, nobody else anything.
	masters := AuthorizerFunc(func(_ context.Context, a Attributes) (Decision, string, error) {
		if a.User != nil && a.User.InGroup("system:masters") {
			return DecisionAllow, "", nil
		}
		return DecisionNoOpinion, "", nil
	})
	pods := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}`))
	})
	handler := authn.Middleware(Middleware(pods, masters, podRequestInfo), authn.NewX509(pool), false, nil)
	srv := httptest.NewUnstartedServer(handler)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{servingCert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	tests := []struct {
		name    string
		spec    *pki.CertSpec // nil: no client certificate
		wantErr func(error) bool
		wantMsg string
	}{
		{name: "admin lists pods", spec: &pki.CertSpec{CommonName: "admin", Organizations: []string{"system:masters"}, Client: true}},
		{name: "bob is forbidden", spec: &pki.CertSpec{CommonName: "bob", Organizations: []string{"dev"}, Client: true},
			wantErr: apierrors.IsForbidden,
			wantMsg: `pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default"`},
		{name: "no credentials", wantErr: apierrors.IsUnauthorized, wantMsg: "Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := pki.Kubeconfig{ClusterName: "kubelab", Server: srv.URL, CAPEM: ca.CertPEM}
			if tt.spec != nil {
				kp, err := ca.Issue(*tt.spec)
				if err != nil {
					t.Fatal(err)
				}
				k.ClientCertPEM, k.ClientKeyPEM = kp.CertPEM, kp.KeyPEM
			}
			path := filepath.Join(t.TempDir(), "kubeconfig")
			if err := k.Write(path); err != nil {
				t.Fatal(err)
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", path)
			if err != nil {
				t.Fatal(err)
			}
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !tt.wantErr(err) {
				t.Fatalf("err = %v (%T), not the expected kind", err, err)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("message = %q, want %q", err.Error(), tt.wantMsg)
			}
		})
	}
}

// podRequestInfo is a toy request-info parser that understands /api/v1/namespaces/<ns>/pods only.
func podRequestInfo(r *http.Request) Attributes {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) == 5 && parts[0] == "api" && parts[2] == "namespaces" {
		return Attributes{Verb: "list", ResourceRequest: true, Namespace: parts[3], Resource: parts[4]}
	}
	return Attributes{Verb: strings.ToLower(r.Method), Path: r.URL.Path}
}
