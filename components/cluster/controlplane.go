package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubelab/kubelab/components/apiserver"
	"github.com/kubelab/kubelab/components/controllers"
	"github.com/kubelab/kubelab/components/pki"
)

// ControlPlaneOptions configure a quickstart control plane.
type ControlPlaneOptions struct {
	// Name is the cluster's name and its kubeconfig context ("kubelab").
	Name string
	// Dir keeps the state: pki/, etcd/, admin.kubeconfig. Reusing it
	// resumes the cluster with its data.
	Dir string
	// BindAddress and Port are where the API server listens
	// (127.0.0.1:6443 by default; Port -1 picks a free port, for tests).
	BindAddress string
	Port        int
	// EtcdServers selects an external etcd; empty embeds one in Dir/etcd.
	EtcdServers []string
	// EtcdPort is the embedded etcd's preferred client port (0 = 2379; -1 = any free port).
	EtcdPort int
	// Kubeconfig, when set, gets the admin context merged in.
	Kubeconfig string
	// Controllers run in-process against the new API server, selected like
	// kube-controller-manager's --controllers ("*" = all); nil runs none.
	Controllers []string
	// ServiceClusterIPRange and ServiceNodePortRange pass through.
	ServiceClusterIPRange, ServiceNodePortRange string
}

// ControlPlane is a running control plane.
type ControlPlane struct {
	Name string
	Dir  string
	// URL of the API server, e.g. https://127.0.0.1:6443.
	URL string
	// AdminKubeconfig is a standalone kubeconfig with cluster-admin
	// credentials (Dir/admin.kubeconfig).
	AdminKubeconfig string
	// EtcdURL is the embedded etcd's client URL ("" when external).
	EtcdURL string
	// Server is the in-process API server.
	Server *apiserver.Server

	etcd        *EmbeddedEtcd
	cancel      context.CancelFunc
	served      chan error
	controllers chan error
	stopOnce    sync.Once
}

// StartControlPlane brings up etcd and the API server and returns once the
// API answers /readyz with the admin credentials.
func StartControlPlane(ctx context.Context, o ControlPlaneOptions) (_ *ControlPlane, err error) {
	if o.Name == "" {
		o.Name = "kubelab"
	}
	if o.BindAddress == "" {
		o.BindAddress = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = 6443
	}
	if o.Dir == "" {
		return nil, errors.New("control plane needs a state directory")
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory %s: %w", o.Dir, err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	cp := &ControlPlane{Name: o.Name, Dir: o.Dir, cancel: cancel, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			cp.Stop()
		}
	}()

	ln, err := listen(o.BindAddress, o.Port)
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	cp.URL = "https://" + net.JoinHostPort(host, port)
	creds, err := ensurePKI(filepath.Join(o.Dir, "pki"), host)
	if err != nil {
		ln.Close()
		return nil, err
	}

	aopts := apiserver.Options{
		BindAddress: host, Listener: ln, AdvertiseAddress: host,
		TLSCertFile: creds.servingCert, TLSPrivateKeyFile: creds.servingKey, ClientCAFile: creds.caCert,
		ServiceClusterIPRange: o.ServiceClusterIPRange, ServiceNodePortRange: o.ServiceNodePortRange,
		EtcdServers: o.EtcdServers,
	}
	aopts.SecurePort, _ = strconv.Atoi(port)
	if len(o.EtcdServers) == 0 {
		etcdPort := o.EtcdPort
		if etcdPort == 0 {
			etcdPort = 2379
		}
		if cp.etcd, err = StartEtcd(ctx, filepath.Join(o.Dir, "etcd"), etcdPort); err != nil {
			ln.Close()
			return nil, err
		}
		cp.EtcdURL = cp.etcd.ClientURL
		aopts.EtcdClient = cp.etcd.Client
		aopts.EtcdServers = []string{cp.etcd.ClientURL}
	}

	srv, err := apiserver.New(runCtx, aopts)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("start kube-apiserver: %w", err)
	}
	cp.Server = srv
	go func() { cp.served <- srv.Serve(runCtx) }()

	kc := pki.Kubeconfig{ClusterName: o.Name, Server: cp.URL, CAPEM: creds.caPEM, User: "admin",
		ClientCertPEM: creds.adminCert, ClientKeyPEM: creds.adminKey}
	cp.AdminKubeconfig = filepath.Join(o.Dir, "admin.kubeconfig")
	if err := kc.Write(cp.AdminKubeconfig); err != nil {
		return nil, err
	}
	if err := waitReady(ctx, cp.AdminKubeconfig); err != nil {
		return nil, err
	}
	if len(o.Controllers) > 0 {
		cp.controllers = make(chan error, 1)
		copts := controllers.Options{Kubeconfig: cp.AdminKubeconfig, Controllers: o.Controllers}
		go func() { cp.controllers <- controllers.Run(runCtx, copts) }()
	}
	if o.Kubeconfig != "" {
		if err := kc.Merge(o.Kubeconfig); err != nil {
			return nil, fmt.Errorf("merge context %q into %s: %w", o.Name, o.Kubeconfig, err)
		}
	}
	return cp, nil
}

func listen(host string, port int) (net.Listener, error) {
	if port < 0 {
		port = 0
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (another API server or `kubelab up` running? stop it, or choose --port)", addr, err)
	}
	return ln, nil
}

// waitReady polls /readyz through client-go with the admin kubeconfig: the
// same path kubectl will take.
func waitReady(ctx context.Context, kubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-apiserver not ready after 30s: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Done reports when the API server stops serving (nil after Stop).
func (cp *ControlPlane) Done() <-chan error { return cp.served }

// ControllersDone reports when the in-process controllers stop (never, if
// none were asked for).
func (cp *ControlPlane) ControllersDone() <-chan error { return cp.controllers }

// Stop shuts the controllers and the API server down, then etcd. It may be
// called more than once.
func (cp *ControlPlane) Stop() { cp.stopOnce.Do(cp.stop) }

func (cp *ControlPlane) stop() {
	cp.cancel()
	if cp.controllers != nil {
		select {
		case <-cp.controllers:
		case <-time.After(10 * time.Second):
		}
	}
	if cp.Server != nil {
		select {
		case <-cp.served:
		case <-time.After(10 * time.Second):
		}
	}
	cp.etcd.Stop()
}
