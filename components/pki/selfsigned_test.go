package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSelfSigned(t *testing.T) {
	t.Parallel()
	hosts := []string{"localhost", "127.0.0.1", "::1", "kubelab.internal"}
	kp, err := SelfSigned(hosts, 0)
	if err != nil {
		t.Fatal(err)
	}
	leaf, ca := splitChain(t, kp.CertPEM)
	if !leaf.Equal(kp.Cert) || !ca.IsCA {
		t.Fatal("CertPEM is not <serving certificate><its CA>")
	}
	for _, h := range hosts {
		opts := x509.VerifyOptions{Roots: poolOf(ca), DNSName: h, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		if _, err := leaf.Verify(opts); err != nil {
			t.Errorf("host %s: %v", h, err)
		}
	}
	if _, err := kp.TLSCertificate(); err != nil {
		t.Error(err)
	}
}

func TestSelfSignedNoHosts(t *testing.T) {
	t.Parallel()
	if _, err := SelfSigned(nil, 0); err == nil {
		t.Fatal("SelfSigned without hosts succeeded")
	}
}

func TestEnsureSelfSigned(t *testing.T) {
	t.Parallel()
	hosts := []string{"localhost", "127.0.0.1"}
	ca := mustCA(t)
	expired, err := ca.Issue(CertSpec{CommonName: "old", DNSNames: hosts[:1], Server: true, Validity: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	other, err := SelfSigned(hosts, 0)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		setup      func(t *testing.T, dir string) // what is on disk before the call
		hosts      []string
		wantReused bool
	}{
		{name: "nothing on disk", setup: func(*testing.T, string) {}, hosts: hosts},
		{name: "good pair is reused", setup: ensureOnce(hosts), hosts: hosts, wantReused: true},
		{name: "subset of hosts is reused", setup: ensureOnce(hosts), hosts: hosts[1:], wantReused: true},
		{name: "new host regenerates", setup: ensureOnce(hosts), hosts: append([]string{"10.0.0.1"}, hosts...)},
		{name: "expired regenerates", setup: writeKP(expired.CertPEM, expired.KeyPEM), hosts: hosts[:1]},
		{name: "corrupt regenerates", setup: writeKP([]byte("junk"), []byte("junk")), hosts: hosts},
		{name: "key mismatch regenerates", setup: writeKP(other.CertPEM, expired.KeyPEM), hosts: hosts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "certs")
			tt.setup(t, dir)
			before, _ := os.ReadFile(filepath.Join(dir, "apiserver.crt"))

			certFile, keyFile, err := EnsureSelfSigned(dir, tt.hosts)
			if err != nil {
				t.Fatal(err)
			}
			after, err := os.ReadFile(certFile)
			if err != nil {
				t.Fatal(err)
			}
			if reused := bytes.Equal(before, after); reused != tt.wantReused {
				t.Errorf("reused = %v, want %v", reused, tt.wantReused)
			}
			assertMode(t, keyFile, 0o600)
			if !usableFor(certFile, keyFile, tt.hosts, time.Now()) {
				t.Error("result is not usable for the hosts")
			}
		})
	}
}

func ensureOnce(hosts []string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		if _, _, err := EnsureSelfSigned(dir, hosts); err != nil {
			t.Fatal(err)
		}
	}
}

func writeKP(certPEM, keyPEM []byte) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		kp := &KeyPair{CertPEM: certPEM, KeyPEM: keyPEM}
		if err := kp.WriteFiles(filepath.Join(dir, "apiserver.crt"), filepath.Join(dir, "apiserver.key")); err != nil {
			t.Fatal(err)
		}
	}
}

// splitChain parses a two-certificate bundle.
func splitChain(t *testing.T, data []byte) (leaf, ca *x509.Certificate) {
	t.Helper()
	var certs []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(certs) != 2 {
		t.Fatalf("bundle holds %d certificates, want 2", len(certs))
	}
	return certs[0], certs[1]
}
