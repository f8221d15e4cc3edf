package pki

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"time"
)

// SelfSigned makes a throwaway serving certificate for hosts (DNS names or IP addresses), signed by
// a throwaway CA of its own — what kube-apiserver does when started without --tls-cert-file. Clients
// cannot verify it unless they are given that CA, which is why CertPEM holds the serving certificate
// followed by the CA certificate: the file doubles as the bundle to trust. The CA key is discarded,
// so nothing else can ever be signed with it. A zero validity means DefaultCertValidity.
func SelfSigned(hosts []string, validity time.Duration) (*KeyPair, error) {
	if len(hosts) == 0 {
		return nil, errors.New("self-signing certificate: no hosts given")
	}
	if validity <= 0 {
		validity = DefaultCertValidity
	}
	// Names in the style of Kubernetes' self-signed certificates: "<host>-ca@<unix time>" tells you at
	// a glance where a certificate came from and when.
	stamp := time.Now().Unix()
	ca, err := NewCA(fmt.Sprintf("%s-ca@%d", hosts[0], stamp), validity)
	if err != nil {
		return nil, fmt.Errorf("self-signing certificate for %v: %w", hosts, err)
	}
	spec := CertSpec{CommonName: fmt.Sprintf("%s@%d", hosts[0], stamp), Server: true, Validity: validity}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			spec.IPs = append(spec.IPs, ip)
		} else {
			spec.DNSNames = append(spec.DNSNames, h)
		}
	}
	kp, err := ca.Issue(spec)
	if err != nil {
		return nil, fmt.Errorf("self-signing certificate for %v: %w", hosts, err)
	}
	kp.CertPEM = slices.Concat(kp.CertPEM, ca.CertPEM)
	return kp, nil
}

// EnsureSelfSigned returns <dir>/apiserver.crt and <dir>/apiserver.key, creating them with
// SelfSigned when they are missing, unreadable, expired or not valid for every host — like
// kube-apiserver's --cert-dir. Reusing a still-good pair across restarts matters: clients that were
// told to trust it keep working.
func EnsureSelfSigned(dir string, hosts []string) (certFile, keyFile string, err error) {
	certFile = filepath.Join(dir, "apiserver.crt")
	keyFile = filepath.Join(dir, "apiserver.key")
	if usableFor(certFile, keyFile, hosts, time.Now()) {
		return certFile, keyFile, nil
	}
	kp, err := SelfSigned(hosts, 0)
	if err != nil {
		return "", "", err
	}
	if err := kp.WriteFiles(certFile, keyFile); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// usableFor reports whether the pair on disk loads, matches, is valid at now and serves every host.
// Any failure, including files that are missing or corrupt, just means "make a new one".
func usableFor(certFile, keyFile string, hosts []string, now time.Time) bool {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile) // also checks that the key matches
	if err != nil || pair.Leaf == nil {
		return false
	}
	leaf := pair.Leaf
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return false
	}
	for _, h := range hosts {
		// VerifyHostname matches IP literals against the IP SANs and names against the DNS SANs.
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}
