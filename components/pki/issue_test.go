package pki

import (
	"crypto/x509"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIssue(t *testing.T) {
	t.Parallel()
	ca := mustCA(t)
	tests := []struct {
		name           string
		spec           CertSpec
		server, client bool // usages the certificate must (and must only) verify for
		hosts          []string
	}{
		{
			name: "apiserver serving certificate",
			spec: CertSpec{
				CommonName: "kubernetes", DNSNames: []string{"kubernetes", "kubernetes.default.svc.cluster.local", "localhost"},
				IPs: []net.IP{net.ParseIP("10.32.0.1"), net.ParseIP("127.0.0.1")}, Server: true,
			},
			server: true,
			hosts:  []string{"kubernetes.default.svc.cluster.local", "10.32.0.1", "127.0.0.1", "localhost"},
		},
		{
			name:   "admin client certificate",
			spec:   CertSpec{CommonName: "admin", Organizations: []string{"system:masters"}, Client: true},
			client: true,
		},
		{
			name: "kubelet serves and calls",
			spec: CertSpec{
				CommonName: "system:node:node-0", Organizations: []string{"system:nodes"},
				DNSNames: []string{"node-0"}, IPs: []net.IP{net.ParseIP("10.240.0.20")}, Server: true, Client: true,
			},
			server: true, client: true,
			hosts: []string{"node-0", "10.240.0.20"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kp, err := ca.Issue(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			c := kp.Cert
			if c.Subject.CommonName != tt.spec.CommonName || !slices.Equal(c.Subject.Organization, tt.spec.Organizations) {
				t.Errorf("subject = %v, want CN=%s O=%v", c.Subject, tt.spec.CommonName, tt.spec.Organizations)
			}
			if c.IsCA {
				t.Error("issued certificate is a CA")
			}
			if c.Issuer.CommonName != ca.Cert.Subject.CommonName {
				t.Errorf("issuer = %q, want %q", c.Issuer.CommonName, ca.Cert.Subject.CommonName)
			}
			for usage, want := range map[x509.ExtKeyUsage]bool{x509.ExtKeyUsageServerAuth: tt.server, x509.ExtKeyUsageClientAuth: tt.client} {
				_, err := c.Verify(x509.VerifyOptions{Roots: poolOf(ca.Cert), KeyUsages: []x509.ExtKeyUsage{usage}})
				if got := err == nil; got != want {
					t.Errorf("verify for usage %v: err = %v, want success %v", usage, err, want)
				}
			}
			for _, h := range tt.hosts {
				_, err := c.Verify(x509.VerifyOptions{Roots: poolOf(ca.Cert), DNSName: h})
				if err != nil {
					t.Errorf("verify for host %s: %v", h, err)
				}
			}
			if err := c.VerifyHostname("not-a-san.example"); err == nil {
				t.Error("certificate is valid for a host it was not issued for")
			}
			if _, err := kp.TLSCertificate(); err != nil {
				t.Errorf("key pair does not load into crypto/tls: %v", err)
			}
		})
	}
}

func TestIssueErrors(t *testing.T) {
	t.Parallel()
	ca := mustCA(t)
	tests := []struct {
		name    string
		spec    CertSpec
		wantErr string
	}{
		{"no common name", CertSpec{Client: true}, "empty common name"},
		{"no usage", CertSpec{CommonName: "admin"}, `"admin": neither server nor client`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ca.Issue(tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Issue error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestIssueValidity(t *testing.T) {
	t.Parallel()
	ca := mustCA(t) // valid for an hour
	tests := []struct {
		name     string
		validity time.Duration
		want     time.Time
	}{
		{name: "shorter than the CA", validity: 10 * time.Minute, want: time.Now().Add(10 * time.Minute)},
		{name: "default is cut to the CA's expiry", validity: 0, want: ca.Cert.NotAfter},
		{name: "longer is cut to the CA's expiry", validity: 1000 * time.Hour, want: ca.Cert.NotAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kp, err := ca.Issue(CertSpec{CommonName: "admin", Client: true, Validity: tt.validity})
			if err != nil {
				t.Fatal(err)
			}
			if d := kp.Cert.NotAfter.Sub(tt.want); d < -time.Minute || d > time.Minute {
				t.Errorf("NotAfter = %v, want about %v", kp.Cert.NotAfter, tt.want)
			}
		})
	}
}

func TestIssueUniqueSerials(t *testing.T) {
	t.Parallel()
	ca := mustCA(t)
	seen := map[string]bool{ca.Cert.SerialNumber.String(): true}
	for range 20 {
		kp, err := ca.Issue(CertSpec{CommonName: "admin", Client: true})
		if err != nil {
			t.Fatal(err)
		}
		s := kp.Cert.SerialNumber
		if s.Sign() <= 0 || s.BitLen() > 128 || seen[s.String()] {
			t.Fatalf("serial %v is not a fresh positive 128-bit number", s)
		}
		seen[s.String()] = true
	}
}

func TestKeyPairWriteFiles(t *testing.T) {
	t.Parallel()
	ca := mustCA(t)
	kp, err := ca.Issue(CertSpec{CommonName: "admin", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "nested")
	certFile, keyFile := filepath.Join(dir, "admin.crt"), filepath.Join(dir, "admin.key")
	if err := kp.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	assertMode(t, certFile, 0o644)
	assertMode(t, keyFile, 0o600)
}
