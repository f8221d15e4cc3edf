package pki

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// TestMutualTLSWithKubeconfig is the whole story end to end: a CA issues a serving certificate and a
// client certificate, a TLS server requires client certificates signed by that CA, and a client
// built by client-go from a kubeconfig we wrote gets through and is recognised by its CN.
func TestMutualTLSWithKubeconfig(t *testing.T) {
	t.Parallel()
	ca := mustCA(t)
	serving, err := ca.Issue(CertSpec{CommonName: "kubernetes", DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := ca.Issue(CertSpec{CommonName: "admin", Organizations: []string{"system:masters"}, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := mustCA(t).Issue(CertSpec{CommonName: "mallory", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	otherCA := mustCA(t)

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The TLS layer already verified the chain; the CN is the user name.
		io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	tlsCert, err := serving.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{tlsCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    poolOf(ca.Cert),
	}
	srv.StartTLS()
	t.Cleanup(srv.Close) // not defer: the parallel subtests run after this function returns

	tests := []struct {
		name     string
		k        Kubeconfig
		wantBody string
		wantErr  string
	}{
		{
			name:     "admin",
			k:        Kubeconfig{ClusterName: "kubelab", Server: srv.URL, CAPEM: ca.CertPEM, User: "admin", ClientCertPEM: admin.CertPEM, ClientKeyPEM: admin.KeyPEM},
			wantBody: "admin",
		},
		{
			name:    "server not trusted",
			k:       Kubeconfig{ClusterName: "kubelab", Server: srv.URL, CAPEM: otherCA.CertPEM, ClientCertPEM: admin.CertPEM, ClientKeyPEM: admin.KeyPEM},
			wantErr: "certificate signed by unknown authority",
		},
		{
			name:    "client certificate from another CA",
			k:       Kubeconfig{ClusterName: "kubelab", Server: srv.URL, CAPEM: ca.CertPEM, ClientCertPEM: stranger.CertPEM, ClientKeyPEM: stranger.KeyPEM},
			wantErr: "certificate", // the server aborts the handshake: "bad certificate" or "unknown certificate authority"
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "kubeconfig")
			if err := tt.k.Write(path); err != nil {
				t.Fatal(err)
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", path)
			if err != nil {
				t.Fatal(err)
			}
			client, err := rest.HTTPClientFor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Get(srv.URL + "/whoami")
			if tt.wantErr != "" {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("request succeeded, want error containing %q", tt.wantErr)
				}
				t.Logf("error as expected: %v", err)
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || string(body) != tt.wantBody {
				t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, tt.wantBody)
			}
		})
	}
}
