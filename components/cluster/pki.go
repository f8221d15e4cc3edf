package cluster

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/kubelab/kubelab/components/pki"
)

// credentials are the files and PEMs of a quickstart control plane.
type credentials struct {
	caCert, servingCert, servingKey string
	caPEM, adminCert, adminKey      []byte
	// kubeletClientCert/Key: what the API server presents to kubelets for
	// logs and exec (--kubelet-client-certificate).
	kubeletClientCert, kubeletClientKey string
}

// ensurePKI creates (once) a cluster CA, the API server's serving
// certificate and the admin's client certificate (CN=admin,
// O=system:masters) in dir — the hard way's certificate lab, done for you.
func ensurePKI(dir, host string) (*credentials, error) {
	c := &credentials{
		caCert:      filepath.Join(dir, "ca.crt"),
		servingCert: filepath.Join(dir, "apiserver.crt"),
		servingKey:  filepath.Join(dir, "apiserver.key"),
	}
	caKey := filepath.Join(dir, "ca.key")
	ca, err := pki.LoadCA(c.caCert, caKey)
	newCA := err != nil
	if newCA {
		if ca, err = pki.NewCA("kubelab-ca", 0); err != nil {
			return nil, err
		}
		if err := ca.WriteFiles(c.caCert, caKey); err != nil {
			return nil, err
		}
	}
	c.caPEM = ca.CertPEM

	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.32.0.1")}
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		ips = append(ips, ip)
	}
	serving, err := ca.Issue(pki.CertSpec{CommonName: "kube-apiserver", Server: true, IPs: ips,
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}})
	if err != nil {
		return nil, err
	}
	if err := serving.WriteFiles(c.servingCert, c.servingKey); err != nil {
		return nil, err
	}

	adminCert, adminKey := filepath.Join(dir, "admin.crt"), filepath.Join(dir, "admin.key")
	certPEM, errC := os.ReadFile(adminCert)
	keyPEM, errK := os.ReadFile(adminKey)
	// A new CA invalidates every certificate the old one signed.
	if newCA || errC != nil || errK != nil {
		admin, err := ca.Issue(pki.CertSpec{CommonName: "admin", Organizations: []string{"system:masters"}, Client: true})
		if err != nil {
			return nil, fmt.Errorf("issue admin certificate: %w", err)
		}
		if err := admin.WriteFiles(adminCert, adminKey); err != nil {
			return nil, err
		}
		certPEM, keyPEM = admin.CertPEM, admin.KeyPEM
	}
	c.adminCert, c.adminKey = certPEM, keyPEM

	// The hard way's "kube-apiserver-kubelet-client" certificate.
	c.kubeletClientCert, c.kubeletClientKey = filepath.Join(dir, "apiserver-kubelet-client.crt"), filepath.Join(dir, "apiserver-kubelet-client.key")
	if _, err := os.Stat(c.kubeletClientCert); newCA || err != nil {
		kc, err := ca.Issue(pki.CertSpec{CommonName: "kube-apiserver-kubelet-client", Organizations: []string{"system:masters"}, Client: true})
		if err != nil {
			return nil, fmt.Errorf("issue the API server's kubelet client certificate: %w", err)
		}
		if err := kc.WriteFiles(c.kubeletClientCert, c.kubeletClientKey); err != nil {
			return nil, err
		}
	}
	return c, nil
}
