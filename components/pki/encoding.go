package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
)

// PEM block types. Certificates are always "CERTIFICATE"; keys come in three spellings depending on
// who wrote them.
const (
	pemCertificate = "CERTIFICATE"
	pemECKey       = "EC PRIVATE KEY"  // SEC 1, what we write (and Kubernetes' keyutil)
	pemRSAKey      = "RSA PRIVATE KEY" // PKCS#1, `openssl genrsa` before OpenSSL 3
	pemPKCS8Key    = "PRIVATE KEY"     // PKCS#8, `openssl genrsa` / `genpkey` since OpenSSL 3
)

// newKey makes a fresh ECDSA P-256 private key.
func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating ecdsa key: %w", err)
	}
	return key, nil
}

// newSerial returns a random positive serial number of up to 128 bits.
func newSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("generating serial number: %w", err)
		}
		if n.Sign() > 0 { // RFC 5280: serials are positive
			return n, nil
		}
	}
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: der})
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding ecdsa key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemECKey, Bytes: der}), nil
}

// parseCert returns the first certificate in PEM data (a leaf first, then its chain, is the usual
// order of a bundle).
func parseCert(data []byte) (*x509.Certificate, error) {
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type == pemCertificate {
			return x509.ParseCertificate(block.Bytes)
		}
	}
	return nil, errors.New("no CERTIFICATE block found")
}

// parseKey returns the first private key in PEM data. Other blocks are skipped, notably the
// "EC PARAMETERS" block `openssl ecparam -genkey` puts before the key.
func parseKey(data []byte) (crypto.Signer, error) {
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		switch block.Type {
		case pemECKey:
			return x509.ParseECPrivateKey(block.Bytes)
		case pemRSAKey:
			return x509.ParsePKCS1PrivateKey(block.Bytes)
		case pemPKCS8Key:
			key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, err
			}
			signer, ok := key.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("private key of type %T cannot sign", key)
			}
			return signer, nil
		}
	}
	return nil, errors.New("no private key block found")
}

// keyMatches reports whether key is the private half of cert's public key.
func keyMatches(cert *x509.Certificate, key crypto.Signer) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}
