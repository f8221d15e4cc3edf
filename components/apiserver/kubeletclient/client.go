// Package kubeletclient is how the API server reaches a node's kubelet for
// the pod subresources that live on the node: pods/log, pods/exec,
// pods/attach and pods/portforward.
//
//	kubectl logs web ─> GET /api/v1/namespaces/ns/pods/web/log
//	  API server: pod.spec.nodeName = node-1
//	              node-1.status.addresses (by --kubelet-preferred-address-types) = 10.240.0.21
//	              node-1.status.daemonEndpoints.kubeletEndpoint.port                = 10250
//	  ─> GET https://10.240.0.21:10250/containerLogs/ns/web/app   (client cert: --kubelet-client-certificate)
//
// The two meet only over HTTPS (the API server imports nothing from the
// kubelet): this package knows the kubelet's URL scheme and how to
// authenticate to it, nothing more.
package kubeletclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// DefaultPort is the kubelet's API port when a node does not say
// (status.daemonEndpoints.kubeletEndpoint.port is 0).
const DefaultPort = 10250

// DefaultPreferredAddressTypes is kube-apiserver's default
// --kubelet-preferred-address-types order (minus the deprecated
// LegacyHostIP).
var DefaultPreferredAddressTypes = []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeHostName, corev1.NodeExternalIP}

// Config mirrors kube-apiserver's --kubelet-* flags.
type Config struct {
	// CertFile and KeyFile are the client certificate the API server
	// presents (--kubelet-client-certificate, --kubelet-client-key); the
	// kubelet's --client-ca-file must have signed it. Empty: none.
	CertFile, KeyFile string
	// CAFile verifies the kubelet's serving certificate
	// (--kubelet-certificate-authority). Empty: not verified, upstream's
	// default too, because kubelets often serve self-signed certificates.
	CAFile string
	// PreferredAddressTypes is the order in which node addresses are tried
	// (--kubelet-preferred-address-types); nil: DefaultPreferredAddressTypes.
	PreferredAddressTypes []corev1.NodeAddressType
	// Timeout bounds dialing and the TLS handshake (--kubelet-timeout, 5s);
	// streams themselves may last as long as the client wants.
	Timeout time.Duration
}

// Client finds kubelets and holds the TLS settings to talk to them.
type Client struct {
	types []corev1.NodeAddressType
	// transport verifies the kubelet as configured; insecure skips the
	// check for requests with insecureSkipTLSVerifyBackend=true (kubectl
	// logs --insecure-skip-tls-verify-backend).
	transport, insecure *http.Transport
}

// New loads the certificates named in cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	c := &Client{types: cfg.PreferredAddressTypes}
	if len(c.types) == 0 {
		c.types = DefaultPreferredAddressTypes
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("--kubelet-client-certificate and --kubelet-client-key go together")
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load kubelet client certificate %s: %w", cfg.CertFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	insecure := tc.Clone()
	insecure.InsecureSkipVerify = true
	if cfg.CAFile != "" {
		data, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read --kubelet-certificate-authority %s: %w", cfg.CAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("--kubelet-certificate-authority %s: no PEM certificates", cfg.CAFile)
		}
		tc.RootCAs = pool
	} else {
		tc.InsecureSkipVerify = true
	}
	c.transport, c.insecure = newTransport(tc, cfg.Timeout), newTransport(insecure, cfg.Timeout)
	return c, nil
}

// newTransport is an HTTP/1.1 transport: the upgrade proxy reads its TLS
// config to dial for SPDY/WebSocket, which HTTP/2 cannot carry.
func newTransport(tc *tls.Config, timeout time.Duration) *http.Transport {
	return &http.Transport{
		TLSClientConfig:     tc,
		DialContext:         (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: timeout,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
	}
}

// Transport is the round tripper for kubelet requests; insecure skips
// verifying the kubelet's certificate.
func (c *Client) Transport(insecure bool) *http.Transport {
	if insecure {
		return c.insecure
	}
	return c.transport
}

// NodeURL is the kubelet API's base URL for node, e.g.
// https://10.240.0.21:10250.
func (c *Client) NodeURL(node *corev1.Node) (*url.URL, error) {
	host, err := c.address(node)
	if err != nil {
		return nil, err
	}
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port == 0 {
		port = DefaultPort
	}
	return &url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(port))}, nil
}

// address is the node's first address of the first preferred type that it
// has, as upstream's GetPreferredNodeAddress picks it.
func (c *Client) address(node *corev1.Node) (string, error) {
	for _, t := range c.types {
		for _, a := range node.Status.Addresses {
			if a.Type == t && a.Address != "" {
				return a.Address, nil
			}
		}
	}
	known := make([]string, 0, len(node.Status.Addresses))
	for _, a := range node.Status.Addresses {
		known = append(known, string(a.Type)+"="+a.Address)
	}
	return "", fmt.Errorf("node %q has no address of the preferred types %v (status.addresses: %v); the kubelet reports them", node.Name, c.types, known)
}

// ParseAddressTypes checks --kubelet-preferred-address-types
// (["InternalIP", "Hostname", "ExternalIP"]).
func ParseAddressTypes(list []string) ([]corev1.NodeAddressType, error) {
	var out []corev1.NodeAddressType
	for _, f := range list {
		t := corev1.NodeAddressType(strings.TrimSpace(f))
		switch t {
		case "":
			continue
		case corev1.NodeHostName, corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeInternalDNS, corev1.NodeExternalDNS:
			out = append(out, t)
		default:
			return nil, fmt.Errorf("--kubelet-preferred-address-types: unknown address type %q (want Hostname, InternalIP, ExternalIP, InternalDNS, ExternalDNS)", t)
		}
	}
	return out, nil
}
