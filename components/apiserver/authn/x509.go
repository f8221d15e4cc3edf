package authn

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

// NewX509 returns an Authenticator for TLS client certificates signed by a CA in pool (the
// apiserver's --client-ca-file): the certificate's CommonName is the user name and each
// Organization a group, exactly as in Kubernetes.
//
// The server's TLS config should say ClientAuth: tls.VerifyClientCertIfGiven with ClientCAs = pool.
// The handshake then only checks what it is offered, and requests without a certificate (token
// users, anonymous health checks) still get through to the other authenticators. We verify the
// chain again here, requiring the ClientAuth usage, so this authenticator is safe even behind a
// server that was configured to ask for certificates without checking them.
//
// A nil pool authenticates nobody: x509.Verify with nil Roots would trust the operating system's
// public CAs, which would let anyone with a web-server certificate in.
func NewX509(pool *x509.CertPool) Authenticator {
	verified := &verifiedChains{entries: map[[32]byte]time.Time{}}
	return AuthenticatorFunc(func(r *http.Request) (*User, bool, error) {
		if pool == nil || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			return nil, false, nil
		}
		leaf := r.TLS.PeerCertificates[0]
		// Clients may send intermediate certificates after their own; they help build the chain
		// but are not trusted by themselves.
		intermediates := x509.NewCertPool()
		for _, c := range r.TLS.PeerCertificates[1:] {
			intermediates.AddCert(c)
		}
		opts := x509.VerifyOptions{
			Roots:         pool,
			Intermediates: intermediates,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		// A chain verification is a few signature checks: cheap once, not
		// on every request of a busy client. Remember chains that passed.
		key := chainKey(r.TLS.PeerCertificates)
		if !verified.has(key) {
			if _, err := leaf.Verify(opts); err != nil {
				return nil, false, fmt.Errorf("verifying client certificate %q (serial %s): %w",
					leaf.Subject.CommonName, leaf.SerialNumber, err)
			}
			verified.add(key, leaf.NotAfter)
		}
		if leaf.Subject.CommonName == "" {
			return nil, false, fmt.Errorf("client certificate (serial %s) has no common name to use as user name", leaf.SerialNumber)
		}
		return &User{Name: leaf.Subject.CommonName, Groups: slices.Clone(leaf.Subject.Organization)}, true, nil
	})
}

// ClientCAPool reads a PEM bundle of CA certificates (the file given as --client-ca-file). The same
// pool serves both as tls.Config.ClientCAs and as NewX509's argument.
func ClientCAPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading client ca file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("reading client ca file %s: %w", path, errNoCertificates)
	}
	return pool, nil
}

var errNoCertificates = errors.New("no PEM certificates found")

// verifiedChains remembers certificate chains that verified, until the
// leaf expires or for five minutes, whichever comes first.
type verifiedChains struct {
	mu      sync.Mutex
	entries map[[32]byte]time.Time
}

func (v *verifiedChains) has(key [32]byte) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	until, ok := v.entries[key]
	return ok && time.Now().Before(until)
}

func (v *verifiedChains) add(key [32]byte, notAfter time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.entries) > 1024 {
		v.entries = map[[32]byte]time.Time{} // bounded: forget everything, re-verify
	}
	until := time.Now().Add(5 * time.Minute)
	if notAfter.Before(until) {
		until = notAfter
	}
	v.entries[key] = until
}

func chainKey(certs []*x509.Certificate) [32]byte {
	h := sha256.New()
	for _, c := range certs {
		h.Write(c.Raw)
	}
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}
