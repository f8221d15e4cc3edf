package authn

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/kubelab/kubelab/components/pki"
)

// TestOverRealTLS serves the middleware over TLS the way the apiserver will (VerifyClientCertIfGiven
// with ClientCAs) and sends it client certificates, tokens and nothing.
func TestOverRealTLS(t *testing.T) {
	t.Parallel()
	ca, other := newCA(t), newCA(t)
	serving, err := ca.Issue(pki.CertSpec{CommonName: "kubernetes", IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	admin := issueTLS(t, ca, pki.CertSpec{CommonName: "admin", Organizations: []string{"system:masters"}, Client: true})
	stranger := issueTLS(t, other, pki.CertSpec{CommonName: "mallory", Organizations: []string{"system:masters"}, Client: true})
	tokens, err := NewTokenFile(writeFile(t, "s3cret,alice,1001,\"dev\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	auth := Union(NewX509(pool), tokens)
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		json.NewEncoder(w).Encode(u)
	})
	servingCert, err := serving.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	// Two servers: the way the apiserver is configured, and a careless one that asks for client
	// certificates without checking them, where our own chain verification is all that stands.
	start := func(clientAuth tls.ClientAuthType) *httptest.Server {
		srv := httptest.NewUnstartedServer(Middleware(whoami, auth, false, []string{"/healthz"}))
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{servingCert}, ClientAuth: clientAuth, ClientCAs: pool}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv
	}
	verifying, careless := start(tls.VerifyClientCertIfGiven), start(tls.RequestClientCert)

	tests := []struct {
		name        string
		srv         *httptest.Server
		cert        *tls.Certificate
		token       string
		path        string
		want        *User
		wantCode    int
		wantTLSFail bool // the handshake itself is refused
	}{
		{name: "client certificate", srv: verifying, cert: &admin, path: "/api",
			want: &User{Name: "admin", Groups: []string{"system:masters", AllAuthenticated}}, wantCode: 200},
		{name: "token", srv: verifying, token: "s3cret", path: "/api",
			want: &User{Name: "alice", UID: "1001", Groups: []string{"dev", AllAuthenticated}}, wantCode: 200},
		{name: "nothing", srv: verifying, path: "/api", wantCode: 401},
		{name: "wrong token", srv: verifying, token: "guess", path: "/api", wantCode: 401},
		{name: "nothing on a public path", srv: verifying, path: "/healthz",
			want: &User{Name: Anonymous, Groups: []string{AllUnauthenticated}}, wantCode: 200},
		{name: "foreign certificate, verifying server", srv: verifying, cert: &stranger, path: "/api", wantTLSFail: true},
		{name: "foreign certificate, careless server", srv: careless, cert: &stranger, path: "/api", wantCode: 401},
		{name: "client certificate, careless server", srv: careless, cert: &admin, path: "/api",
			want: &User{Name: "admin", Groups: []string{"system:masters", AllAuthenticated}}, wantCode: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := &tls.Config{RootCAs: pool}
			if tt.cert != nil {
				cfg.Certificates = []tls.Certificate{*tt.cert}
			}
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
			req, _ := http.NewRequest("GET", tt.srv.URL+tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := client.Do(req)
			if tt.wantTLSFail {
				if err == nil {
					resp.Body.Close()
					t.Fatal("request succeeded, want the TLS handshake refused")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tt.wantCode)
			}
			if tt.wantCode == http.StatusUnauthorized {
				if got := strings.TrimSpace(string(body)); got != unauthorizedBody {
					t.Errorf("body = %s", got)
				}
				return
			}
			var got User
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&got, tt.want) {
				t.Errorf("user = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func issueTLS(t *testing.T, ca *pki.CA, spec pki.CertSpec) tls.Certificate {
	t.Helper()
	kp, err := ca.Issue(spec)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kp.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return c
}
