package pki

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"time"
)

// DefaultCertValidity is used when a CertSpec has a zero Validity: one year, like kubeadm's
// component certificates.
const DefaultCertValidity = 365 * 24 * time.Hour

// CertSpec says what certificate to issue.
//
// For a client certificate the apiserver reads CommonName as the user name and each Organization as
// a group, so the admin is {CommonName: "admin", Organizations: ["system:masters"]} and a kubelet is
// {CommonName: "system:node:node-0", Organizations: ["system:nodes"]}.
//
// For a server certificate the client checks that the address it dialled is among DNSNames or IPs
// (the Subject Alternative Names); the CommonName is not used for that any more.
type CertSpec struct {
	CommonName    string
	Organizations []string
	DNSNames      []string
	IPs           []net.IP
	// Server and Client choose the extended key usages ServerAuth and ClientAuth; a component that
	// both serves and calls others (a kubelet) may have both.
	Server, Client bool
	// Validity is how long the certificate is valid; zero means DefaultCertValidity. It is cut
	// short to the CA's own expiry, since a chain is only valid while every link is.
	Validity time.Duration
}

// KeyPair is an issued certificate and its private key.
type KeyPair struct {
	Cert    *x509.Certificate
	CertPEM []byte // the certificate, possibly followed by the chain up to (and including) its CA
	KeyPEM  []byte
}

// Issue creates a new key and a certificate for it signed by the CA.
func (ca *CA) Issue(spec CertSpec) (*KeyPair, error) {
	if spec.CommonName == "" {
		return nil, errors.New("issuing certificate: empty common name")
	}
	if !spec.Server && !spec.Client {
		return nil, fmt.Errorf("issuing certificate %q: neither server nor client usage requested", spec.CommonName)
	}
	validity := spec.Validity
	if validity <= 0 {
		validity = DefaultCertValidity
	}
	key, err := newKey()
	if err != nil {
		return nil, fmt.Errorf("issuing certificate %q: %w", spec.CommonName, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("issuing certificate %q: %w", spec.CommonName, err)
	}
	now := time.Now()
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	var usages []x509.ExtKeyUsage
	if spec.Server {
		usages = append(usages, x509.ExtKeyUsageServerAuth)
	}
	if spec.Client {
		usages = append(usages, x509.ExtKeyUsageClientAuth)
	}
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.CommonName, Organization: spec.Organizations},
		DNSNames:     spec.DNSNames,
		IPAddresses:  spec.IPs,
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     notAfter,
		// ECDSA keys sign the TLS handshake (DigitalSignature); KeyEncipherment is an RSA-only usage.
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           usages,
		BasicConstraintsValid: true, // and IsCA false: this certificate cannot sign others
	}
	// The CA certificate is the parent: its subject becomes our issuer and its key signs.
	der, err := x509.CreateCertificate(rand.Reader, template, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issuing certificate %q: %w", spec.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("issuing certificate %q: %w", spec.CommonName, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, fmt.Errorf("issuing certificate %q: %w", spec.CommonName, err)
	}
	return &KeyPair{Cert: cert, CertPEM: encodeCert(der), KeyPEM: keyPEM}, nil
}

// WriteFiles writes the certificate (0644) and key (0600), creating directories as needed.
func (kp *KeyPair) WriteFiles(certFile, keyFile string) error {
	return writePair(certFile, kp.CertPEM, keyFile, kp.KeyPEM)
}

// TLSCertificate returns the pair in the form crypto/tls serves or presents.
func (kp *KeyPair) TLSCertificate() (tls.Certificate, error) {
	cert, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("loading key pair %q: %w", kp.Cert.Subject.CommonName, err)
	}
	return cert, nil
}
