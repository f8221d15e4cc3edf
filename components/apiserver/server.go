package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kubelab/kubelab/components/apiserver/authn"
	"github.com/kubelab/kubelab/components/apiserver/authz"
	"github.com/kubelab/kubelab/components/apiserver/kubeletclient"
	"github.com/kubelab/kubelab/components/apiserver/registry"
	"github.com/kubelab/kubelab/components/apiserver/rest"
	"github.com/kubelab/kubelab/components/apiserver/storage"
	"github.com/kubelab/kubelab/components/pki"
)

// Server is a configured API server, ready to serve.
type Server struct {
	// Handler is the whole chain (authn → authz → API), usable in tests.
	Handler http.Handler
	// API is the chain without authentication and authorization.
	API      http.Handler
	Registry *registry.Registry

	opts       Options
	etcd       *clientv3.Client
	ownsEtcd   bool
	tlsConfig  *tls.Config
	authorizer authz.Authorizer
	kubelet    *kubeletclient.Client
	listener   net.Listener
}

// Run builds the server and serves until ctx ends.
func Run(ctx context.Context, o Options) error {
	s, err := New(ctx, o)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// New connects to etcd, registers every resource, waits for the watch
// caches, creates the default namespaces and the `kubernetes` Service, and
// prepares TLS. Watch caches and controllers live until ctx ends.
func New(ctx context.Context, o Options) (_ *Server, err error) {
	o.Defaults()
	s := &Server{opts: o}
	defer func() {
		// A server that failed to start must not leave its etcd client open.
		if err != nil && s.ownsEtcd {
			s.etcd.Close()
		}
	}()
	if o.EtcdClient != nil {
		s.etcd = o.EtcdClient
	} else {
		c, derr := dialEtcd(o)
		if derr != nil {
			return nil, derr
		}
		s.etcd, s.ownsEtcd = c, true
	}
	store := storage.New(s.etcd)
	go storage.KeepProgress(ctx, s.etcd, 5*time.Second)

	reg, err := buildRegistry(ctx, store, o)
	if err != nil {
		return nil, err
	}
	s.Registry = reg
	readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := reg.WaitReady(readyCtx); err != nil {
		return nil, fmt.Errorf("waiting for etcd at %v: %w", o.EtcdServers, err)
	}
	if err := bootstrap(ctx, reg, o); err != nil {
		return nil, err
	}
	withdrawn, err := announce(ctx, reg, o)
	if err != nil {
		return nil, err
	}
	if s.ownsEtcd {
		// Close our etcd client last: after the master lease is withdrawn.
		go func() {
			<-ctx.Done()
			select {
			case <-withdrawn:
			case <-time.After(3 * time.Second):
			}
			s.etcd.Close()
		}()
	}
	// Every request is allowed for now: RBAC and the node authorizer come
	// with the security issue, behind this same seam.
	s.authorizer = authz.AlwaysAllow
	if s.kubelet, err = newKubeletClient(o); err != nil {
		return nil, err
	}
	s.API = s.apiHandler()

	authenticator, err := buildAuthenticator(o)
	if err != nil {
		return nil, err
	}
	chain := authz.Middleware(s.API, s.authorizer, attributes)
	chain = authn.Middleware(chain, authenticator, o.AnonymousAuth, publicPaths)
	s.Handler = withRecovery(withMetrics(chain))

	if err := s.setupTLS(o); err != nil {
		return nil, err
	}
	return s, nil
}

// publicPaths answer without credentials, like kube-apiserver's
// system:public-info-viewer role allows.
var publicPaths = []string{"/healthz", "/livez", "/readyz", "/version"}

func dialEtcd(o Options) (*clientv3.Client, error) {
	if len(o.EtcdServers) == 0 {
		return nil, errors.New("no etcd: pass --etcd-servers=http://127.0.0.1:2379 (or run `kubelab up`, which embeds one)")
	}
	cfg := clientv3.Config{Endpoints: o.EtcdServers, DialTimeout: 5 * time.Second, Logger: etcdLogger()}
	if o.EtcdCAFile != "" || o.EtcdCertFile != "" {
		info := transport.TLSInfo{TrustedCAFile: o.EtcdCAFile, CertFile: o.EtcdCertFile, KeyFile: o.EtcdKeyFile}
		tc, err := info.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("etcd TLS from %s/%s: %w", o.EtcdCertFile, o.EtcdCAFile, err)
		}
		cfg.TLS = tc
	}
	c, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %v: %w", o.EtcdServers, err)
	}
	return c, nil
}

func buildAuthenticator(o Options) (authn.Authenticator, error) {
	var list []authn.Authenticator
	if o.ClientCAFile != "" {
		pool, err := authn.ClientCAPool(o.ClientCAFile)
		if err != nil {
			return nil, err
		}
		list = append(list, authn.NewX509(pool))
	}
	if o.TokenAuthFile != "" {
		t, err := authn.NewTokenFile(o.TokenAuthFile)
		if err != nil {
			return nil, err
		}
		list = append(list, t)
	}
	return authn.Union(list...), nil
}

// setupTLS loads or makes the serving certificate and asks clients for
// certificates (verified by the x509 authenticator against --client-ca-file).
func (s *Server) setupTLS(o Options) error {
	certFile, keyFile := o.TLSCertFile, o.TLSPrivateKeyFile
	if certFile == "" {
		hosts := []string{"localhost", "127.0.0.1", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
		if o.AdvertiseAddress != "" {
			hosts = append(hosts, o.AdvertiseAddress)
		}
		var err error
		if certFile, keyFile, err = pki.EnsureSelfSigned(o.CertDir, hosts); err != nil {
			return fmt.Errorf("self-signed serving certificate in %s: %w", o.CertDir, err)
		}
		slog.Info("serving with a self-signed certificate", "cert", certFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("load serving certificate %s: %w", certFile, err)
	}
	s.tlsConfig = &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
		ClientAuth:   tls.RequestClientCert,
	}
	if o.TLSConfig != nil {
		o.TLSConfig(s.tlsConfig)
	}
	return nil
}

// Addr is where the server listens once Serve has started (or the
// configured listener's address).
func (s *Server) Addr() string {
	if s.listener != nil {
		return s.listener.Addr().String()
	}
	return net.JoinHostPort(s.opts.BindAddress, strconv.Itoa(s.opts.SecurePort))
}

// Serve serves HTTPS until ctx ends, then stops gracefully.
func (s *Server) Serve(ctx context.Context) error {
	ln := s.opts.Listener
	if ln == nil {
		var err error
		addr := net.JoinHostPort(s.opts.BindAddress, strconv.Itoa(s.opts.SecurePort))
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("listen on %s: %w (is another API server running? pick one with --secure-port)", addr, err)
		}
	}
	s.listener = ln
	srv := &http.Server{Handler: s.Handler, TLSConfig: s.tlsConfig, ReadHeaderTimeout: 30 * time.Second,
		ErrorLog: slogErrorLog()}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(ln, s.tlsConfig)) }()
	slog.Info("kube-apiserver serving", "address", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

// attributes describes a request for the authorizer.
func attributes(r *http.Request) authz.Attributes {
	ri := rest.ParseRequestInfo(r)
	a := authz.Attributes{Path: r.URL.Path, Verb: strings.ToLower(r.Method)}
	if ri.IsResource {
		a.ResourceRequest = true
		a.Verb, a.Namespace, a.APIGroup, a.Resource, a.Subresource, a.Name = ri.Verb, ri.Namespace, ri.Group, ri.Resource, ri.Subresource, ri.Name
	}
	return a
}
