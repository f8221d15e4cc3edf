package authn

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/kubelab/kubelab/components/pki"
)

func TestX509(t *testing.T) {
	t.Parallel()
	ca, other := newCA(t), newCA(t)
	issue := func(ca *pki.CA, spec pki.CertSpec) []*x509.Certificate {
		kp, err := ca.Issue(spec)
		if err != nil {
			t.Fatal(err)
		}
		return []*x509.Certificate{kp.Cert}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)

	tests := []struct {
		name    string
		pool    *x509.CertPool
		peer    []*x509.Certificate // nil: plain HTTP
		want    *User
		wantErr bool
	}{
		{name: "admin", pool: pool, peer: issue(ca, pki.CertSpec{CommonName: "admin", Organizations: []string{"system:masters"}, Client: true}),
			want: &User{Name: "admin", Groups: []string{"system:masters"}}},
		{name: "kubelet with two groups", pool: pool,
			peer: issue(ca, pki.CertSpec{CommonName: "system:node:node-0", Organizations: []string{"system:nodes", "lab"}, Client: true, Server: true}),
			// Organizations are one DER "SET OF", which is stored sorted: the order is not kept.
			want: &User{Name: "system:node:node-0", Groups: []string{"lab", "system:nodes"}}},
		{name: "no TLS", pool: pool},
		{name: "TLS without client certificate", pool: pool, peer: []*x509.Certificate{}},
		{name: "signed by another CA", pool: pool, peer: issue(other, pki.CertSpec{CommonName: "mallory", Client: true}), wantErr: true},
		{name: "serving certificate used as client", pool: pool, peer: issue(ca, pki.CertSpec{CommonName: "kubernetes", DNSNames: []string{"x"}, Server: true}), wantErr: true},
		{name: "no common name", pool: pool, peer: []*x509.Certificate{noCNCert(t, ca)}, wantErr: true},
		{name: "nil pool trusts nobody", pool: nil, peer: issue(ca, pki.CertSpec{CommonName: "admin", Client: true})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/api", nil)
			r.TLS = nil
			if tt.peer != nil {
				r.TLS = &tls.ConnectionState{PeerCertificates: tt.peer}
			}
			u, ok, err := NewX509(tt.pool).Authenticate(r)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if ok != (tt.want != nil) || !reflect.DeepEqual(u, tt.want) {
				t.Fatalf("got %+v, %v; want %+v", u, ok, tt.want)
			}
		})
	}
}

func TestClientCAPool(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	dir := t.TempDir()
	tests := []struct {
		name    string
		content []byte // nil: no file
		wantErr bool
	}{
		{name: "one CA", content: ca.CertPEM},
		{name: "bundle of two", content: append(append([]byte{}, ca.CertPEM...), newCA(t).CertPEM...)},
		{name: "no certificates", content: []byte("hello"), wantErr: true},
		{name: "missing file", wantErr: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, string(rune('a'+i))+".crt")
			if tt.content != nil {
				if err := os.WriteFile(path, tt.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			pool, err := ClientCAPool(path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && pool == nil {
				t.Fatal("nil pool without error")
			}
		})
	}
}

// Helpers shared by this package's tests.

func newCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA("kubelab-test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// noCNCert makes a client certificate without a CommonName, which pki refuses to issue.
func noCNCert(t *testing.T, ca *pki.CA) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42), Subject: pkix.Name{Organization: []string{"system:masters"}},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, ca.Key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
