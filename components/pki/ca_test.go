package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewCA(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		validity time.Duration
		want     time.Duration
	}{
		{name: "default validity", validity: 0, want: DefaultCAValidity},
		{name: "explicit validity", validity: 48 * time.Hour, want: 48 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := time.Now()
			ca, err := NewCA("kubelab-ca", tt.validity)
			if err != nil {
				t.Fatal(err)
			}
			c := ca.Cert
			if !c.IsCA || !c.BasicConstraintsValid || c.KeyUsage&x509.KeyUsageCertSign == 0 {
				t.Errorf("not a usable CA: IsCA=%v BasicConstraintsValid=%v KeyUsage=%v", c.IsCA, c.BasicConstraintsValid, c.KeyUsage)
			}
			if c.Subject.CommonName != "kubelab-ca" {
				t.Errorf("CommonName = %q, want kubelab-ca", c.Subject.CommonName)
			}
			if !c.NotBefore.Before(before.Add(-clockSkew + 2*time.Second)) {
				t.Errorf("NotBefore = %v, want about a minute before %v", c.NotBefore, before)
			}
			if got := c.NotAfter.Sub(before); got < tt.want-time.Minute || got > tt.want+time.Minute {
				t.Errorf("validity = %v, want %v", got, tt.want)
			}
			if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
				t.Errorf("serial %v is not a positive 128-bit number", c.SerialNumber)
			}
			// A self-signed CA verifies against a pool holding only itself.
			if _, err := c.Verify(x509.VerifyOptions{Roots: poolOf(c)}); err != nil {
				t.Errorf("self-verification: %v", err)
			}
		})
	}
}

func TestNewCAEmptyName(t *testing.T) {
	t.Parallel()
	if _, err := NewCA("", 0); err == nil {
		t.Fatal("NewCA with empty name succeeded")
	}
}

func TestCAWriteFilesAndLoad(t *testing.T) {
	t.Parallel()
	ca := mustCA(t)
	dir := filepath.Join(t.TempDir(), "etc", "kubelab", "pki") // missing directories get created
	certFile, keyFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if err := ca.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	assertMode(t, certFile, 0o644)
	assertMode(t, keyFile, 0o600)

	loaded, err := LoadCA(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Cert.Equal(ca.Cert) {
		t.Error("loaded certificate differs from the written one")
	}
	// The loaded key must be able to sign certificates that chain to the original CA.
	kp, err := loaded.Issue(CertSpec{CommonName: "admin", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kp.Cert.Verify(clientOpts(ca)); err != nil {
		t.Errorf("certificate issued by loaded CA does not verify: %v", err)
	}
}

func TestLoadCAErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := mustCA(t)
	other := mustCA(t)
	leaf, err := ca.Issue(CertSpec{CommonName: "admin", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caCert, caKey := write("ca.crt", ca.CertPEM), write("ca.key", ca.KeyPEM)
	otherKey := write("other.key", other.KeyPEM)
	leafCert, leafKey := write("leaf.crt", leaf.CertPEM), write("leaf.key", leaf.KeyPEM)
	garbage := write("garbage", []byte("not pem at all"))
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name, cert, key, wantErr string
	}{
		{"missing certificate", missing, caKey, "missing"},
		{"missing key", caCert, missing, "missing"},
		{"certificate not PEM", garbage, caKey, "no CERTIFICATE block"},
		{"key not PEM", caCert, garbage, "no private key block"},
		{"not a CA", leafCert, leafKey, "is not a CA certificate"},
		{"key of another CA", caCert, otherKey, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadCA(tt.cert, tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("LoadCA error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestLoadCAOpensslKeys loads CAs whose keys are in the formats openssl writes, as a student doing
// the PKI lab by hand would have.
func TestLoadCAOpensslKeys(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8RSA, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	sec1EC, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		signer crypto.Signer
		key    []byte
	}{
		{"openssl 3 genrsa (PKCS#8)", rsaKey, pemOf("PRIVATE KEY", pkcs8RSA)},
		{"old openssl genrsa (PKCS#1)", rsaKey, pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))},
		{"openssl ecparam -genkey (with EC PARAMETERS)", ecKey, slices.Concat(pemOf("EC PARAMETERS", []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}), pemOf("EC PRIVATE KEY", sec1EC))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tmpl := &x509.Certificate{
				SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "openssl-ca"},
				NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
				IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, tt.signer.Public(), tt.signer)
			if err != nil {
				t.Fatal(err)
			}
			certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
			if err := os.WriteFile(certFile, pemOf("CERTIFICATE", der), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(keyFile, tt.key, 0o600); err != nil {
				t.Fatal(err)
			}
			ca, err := LoadCA(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			kp, err := ca.Issue(CertSpec{CommonName: "admin", Client: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kp.Cert.Verify(clientOpts(ca)); err != nil {
				t.Errorf("issued certificate does not verify: %v", err)
			}
		})
	}
}

// Helpers shared by this package's tests.

func mustCA(t *testing.T) *CA {
	t.Helper()
	ca, err := NewCA("kubelab-test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}

func clientOpts(ca *CA) x509.VerifyOptions {
	return x509.VerifyOptions{Roots: poolOf(ca.Cert), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("%s: mode %o, want %o", filepath.Base(path), got, want)
	}
}
