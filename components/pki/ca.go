package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"time"
)

// DefaultCAValidity is used when NewCA is given a zero validity: ten years, like kubeadm's CA.
const DefaultCAValidity = 10 * 365 * 24 * time.Hour

// clockSkew is how far in the past NotBefore is set, so a certificate is already valid on a machine
// whose clock lags the issuer's.
const clockSkew = time.Minute

// CA is a certificate authority: a self-signed certificate whose key signs every other certificate
// of the cluster. Anyone holding Key can mint any identity (including system:masters), so ca.key
// stays on the control plane.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// NewCA creates a self-signed CA certificate and a fresh key. A zero validity means
// DefaultCAValidity.
func NewCA(commonName string, validity time.Duration) (*CA, error) {
	if commonName == "" {
		return nil, errors.New("creating ca: empty common name")
	}
	if validity <= 0 {
		validity = DefaultCAValidity
	}
	key, err := newKey()
	if err != nil {
		return nil, fmt.Errorf("creating ca %q: %w", commonName, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("creating ca %q: %w", commonName, err)
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.Add(validity),
		// A CA signs certificates (CertSign) and revocation lists (CRLSign); BasicConstraints with
		// IsCA is what makes x509.Verify accept it as an issuer at all.
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	// Self-signed: the template is its own parent, signed with its own key.
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating ca %q: %w", commonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("creating ca %q: %w", commonName, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, fmt.Errorf("creating ca %q: %w", commonName, err)
	}
	return &CA{Cert: cert, Key: key, CertPEM: encodeCert(der), KeyPEM: keyPEM}, nil
}

// LoadCA reads a CA certificate and its key from PEM files, such as ones WriteFiles wrote or ones
// made with openssl. It checks that the certificate is a CA and that the key belongs to it.
func LoadCA(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("loading ca certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading ca key: %w", err)
	}
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("loading ca certificate %s: %w", certFile, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("loading ca certificate %s: %q is not a CA certificate", certFile, cert.Subject.CommonName)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading ca key %s: %w", keyFile, err)
	}
	if !keyMatches(cert, key) {
		return nil, fmt.Errorf("loading ca: key %s does not match certificate %s", keyFile, certFile)
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// WriteFiles writes the CA certificate (0644) and key (0600), creating directories as needed.
func (ca *CA) WriteFiles(certFile, keyFile string) error {
	return writePair(certFile, ca.CertPEM, keyFile, ca.KeyPEM)
}
