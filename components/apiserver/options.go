// Package apiserver is the kube-apiserver box of the picture: the only
// component that talks to etcd, and the hub every other component (and
// kubectl) talks to.
//
//	HTTPS request
//	  └─ recover, metrics, logging        (server.go)
//	     └─ authentication: x509 / token  (package authn)   -> 401
//	        └─ authorization              (package authz)   -> 403
//	           └─ discovery, openapi, /version, health      (package rest)
//	           └─ resource handler: decode -> registry       (package rest)
//	              └─ defaults, validation, admission hooks   (packages defaults, validation, allocator)
//	                 └─ etcd transaction + watch cache       (package storage)
//
// Run starts it as its own binary (cmd/kube-apiserver) or inside `kubelab up`.
package apiserver

import (
	"crypto/tls"
	"net"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Options mirror kube-apiserver's flags of the same names.
type Options struct {
	// EtcdServers are the etcd client URLs (--etcd-servers).
	EtcdServers []string
	// EtcdCAFile, EtcdCertFile, EtcdKeyFile secure the etcd connection.
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	// EtcdClient, when set, is used instead of dialing EtcdServers (an
	// embedded etcd in the same process). The caller closes it.
	EtcdClient *clientv3.Client

	// BindAddress and SecurePort say where to serve HTTPS (--bind-address, --secure-port).
	BindAddress string
	SecurePort  int
	// Listener, when set, is used instead of BindAddress:SecurePort.
	Listener net.Listener
	// AdvertiseAddress is the IP the `kubernetes` Service's endpoints point
	// at (--advertise-address); defaults to the bind address or 127.0.0.1.
	AdvertiseAddress string

	// TLSCertFile and TLSPrivateKeyFile are the serving certificate; when
	// empty a self-signed one is made under CertDir (--cert-dir).
	TLSCertFile, TLSPrivateKeyFile string
	CertDir                        string
	// ClientCAFile verifies client certificates: CN = user, O = groups.
	ClientCAFile string
	// TokenAuthFile is the static token CSV: token,user,uid,"group1,group2".
	TokenAuthFile string
	// AnonymousAuth lets requests without credentials in as system:anonymous.
	AnonymousAuth bool

	// ServiceClusterIPRange is where Service cluster IPs come from; a
	// second CIDR after a comma makes the cluster dual-stack.
	ServiceClusterIPRange string
	// ServiceNodePortRange is where NodePorts come from ("30000-32767").
	ServiceNodePortRange string

	// DefaultNotReadyTolerationSeconds / DefaultUnreachableTolerationSeconds:
	// how long new pods tolerate the node.kubernetes.io/not-ready and
	// unreachable NoExecute taints, i.e. stay on a failed node before the
	// taint eviction controller deletes them (DefaultTolerationSeconds
	// admission; --default-not-ready-toleration-seconds and
	// --default-unreachable-toleration-seconds). 0 means upstream's 300;
	// the shortest setting is 1.
	DefaultNotReadyTolerationSeconds, DefaultUnreachableTolerationSeconds int64

	// KubeletClientCertificate and KubeletClientKey are what the API server
	// presents to kubelets for logs and exec (--kubelet-client-certificate,
	// --kubelet-client-key); the kubelets' --client-ca-file must trust them.
	KubeletClientCertificate, KubeletClientKey string
	// KubeletCertificateAuthority verifies kubelets' serving certificates
	// (--kubelet-certificate-authority); empty: not verified, as upstream.
	KubeletCertificateAuthority string
	// KubeletPreferredAddressTypes is the order in which a node's
	// status.addresses are tried (--kubelet-preferred-address-types;
	// default InternalIP,Hostname,ExternalIP).
	KubeletPreferredAddressTypes []string
	// KubeletTimeout bounds dialing a kubelet (--kubelet-timeout, 5s).
	KubeletTimeout time.Duration

	// EventTTL is how long Events are kept (--event-ttl, 1h).
	EventTTL time.Duration
	// WatchCacheSize is how many recent events each resource keeps for
	// watches that resume from a resourceVersion.
	WatchCacheSize int
	// ShutdownTimeout bounds the graceful stop.
	ShutdownTimeout time.Duration

	// TLSConfig hooks let tests tweak the server TLS config (rarely needed).
	TLSConfig func(*tls.Config)
}

// Defaults fills in the defaults of the real component (and of the hard
// way's addressing: services in 10.32.0.0/24).
func (o *Options) Defaults() {
	if o.BindAddress == "" {
		o.BindAddress = "0.0.0.0"
	}
	if o.SecurePort == 0 {
		o.SecurePort = 6443
	}
	if o.ServiceClusterIPRange == "" {
		o.ServiceClusterIPRange = "10.32.0.0/24"
	}
	if o.ServiceNodePortRange == "" {
		o.ServiceNodePortRange = "30000-32767"
	}
	if o.CertDir == "" {
		o.CertDir = "/var/run/kubelab/apiserver"
	}
	if o.DefaultNotReadyTolerationSeconds == 0 {
		o.DefaultNotReadyTolerationSeconds = 300
	}
	if o.DefaultUnreachableTolerationSeconds == 0 {
		o.DefaultUnreachableTolerationSeconds = 300
	}
	if o.EventTTL == 0 {
		o.EventTTL = time.Hour
	}
	if o.WatchCacheSize == 0 {
		o.WatchCacheSize = 4096
	}
	if len(o.KubeletPreferredAddressTypes) == 0 {
		o.KubeletPreferredAddressTypes = []string{"InternalIP", "Hostname", "ExternalIP"}
	}
	if o.KubeletTimeout == 0 {
		o.KubeletTimeout = 5 * time.Second
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = 5 * time.Second
	}
}
