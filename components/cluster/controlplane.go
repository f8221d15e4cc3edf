package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubelab/kubelab/components/apiserver"
	"github.com/kubelab/kubelab/components/controllers"
	"github.com/kubelab/kubelab/components/pki"
	"github.com/kubelab/kubelab/components/scheduler"
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
	// ControllerSettings pass through to the controllers (zero fields:
	// upstream's defaults).
	ControllerSettings controllers.Settings
	// Scheduler runs kube-scheduler in-process; SchedulerConfigFile is its
	// --config (a KubeSchedulerConfiguration), optional.
	Scheduler           bool
	SchedulerConfigFile string
	// DebugAddress, when set, serves the in-process scheduler's and
	// controllers' /metrics, /healthz and /debug/scheduler/explain there
	// (what kube-scheduler serves on :10251), e.g. "127.0.0.1:10251".
	DebugAddress string
	// ServiceClusterIPRange and ServiceNodePortRange pass through.
	ServiceClusterIPRange, ServiceNodePortRange string
	// DefaultNotReadyTolerationSeconds and DefaultUnreachableTolerationSeconds
	// pass through to the API server's DefaultTolerationSeconds admission
	// (0: upstream's 300 s).
	DefaultNotReadyTolerationSeconds, DefaultUnreachableTolerationSeconds int64
}

// LabTimings shortens the self-healing path for labs and tests, so that a
// node going silent moves its pods elsewhere in seconds instead of minutes:
// the node lifecycle controller looks every second and gives up on a node
// after 4 s of silence (upstream: 5 s and 50 s), and new pods tolerate an
// unreachable or not-ready node for 2 s (upstream: 300 s).
func LabTimings(o *ControlPlaneOptions) {
	o.ControllerSettings.NodeMonitorPeriod = time.Second
	o.ControllerSettings.NodeMonitorGracePeriod = 4 * time.Second
	o.ControllerSettings.NodeStartupGracePeriod = 10 * time.Second
	o.DefaultNotReadyTolerationSeconds = 2
	o.DefaultUnreachableTolerationSeconds = 2
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
	// Scheduler is the in-process scheduler (nil unless asked for).
	Scheduler *scheduler.Scheduler
	// DebugURL is where DebugAddress is served ("" when not).
	DebugURL string

	etcd        *EmbeddedEtcd
	ctx         context.Context
	cancel      context.CancelFunc
	served      chan error
	controllers chan error
	scheduler   chan error
	kubelet     chan error
	// allocatesCIDRs: the node IPAM controller gives nodes pod CIDRs.
	allocatesCIDRs bool
	debug          *http.Server
	stopOnce       sync.Once
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
	cp := &ControlPlane{Name: o.Name, Dir: o.Dir, ctx: runCtx, cancel: cancel, served: make(chan error, 1)}
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
		KubeletClientCertificate: creds.kubeletClientCert, KubeletClientKey: creds.kubeletClientKey,
		KubeletCertificateAuthority: creds.caCert,
		ServiceClusterIPRange:       o.ServiceClusterIPRange, ServiceNodePortRange: o.ServiceNodePortRange,
		EtcdServers:                      o.EtcdServers,
		DefaultNotReadyTolerationSeconds: o.DefaultNotReadyTolerationSeconds, DefaultUnreachableTolerationSeconds: o.DefaultUnreachableTolerationSeconds,
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
		cp.allocatesCIDRs = o.ControllerSettings.AllocateNodeCIDRs
		cp.controllers = make(chan error, 1)
		copts := controllers.Options{Kubeconfig: cp.AdminKubeconfig, Controllers: o.Controllers, Settings: o.ControllerSettings}
		if copts.Settings.RootCAFile == "" {
			copts.Settings.RootCAFile = creds.caCert
		}
		go func() { cp.controllers <- controllers.Run(runCtx, copts) }()
	}
	if o.Scheduler {
		s, err := scheduler.New(scheduler.Options{Kubeconfig: cp.AdminKubeconfig, ConfigFile: o.SchedulerConfigFile})
		if err != nil {
			return nil, fmt.Errorf("start kube-scheduler: %w", err)
		}
		cp.Scheduler, cp.scheduler = s, make(chan error, 1)
		go func() { cp.scheduler <- s.Run(runCtx) }()
	}
	if o.DebugAddress != "" {
		if err := cp.serveDebug(o.DebugAddress); err != nil {
			return nil, err
		}
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

// SchedulerDone reports when the in-process scheduler stops (never, if it
// was not asked for).
func (cp *ControlPlane) SchedulerDone() <-chan error { return cp.scheduler }

// serveDebug serves what the standalone kube-scheduler and
// kube-controller-manager serve on their ports: /healthz, /metrics (one
// Prometheus registry: this process holds both) and the scheduler's explain
// endpoint.
func (cp *ControlPlane) serveDebug(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		// Taken (a second cluster, a standalone kube-scheduler): any free
		// port on the same host will do; the URL is reported.
		host, _, _ := net.SplitHostPort(addr)
		if ln, err = net.Listen("tcp", net.JoinHostPort(host, "0")); err != nil {
			return fmt.Errorf("listen on %s for /metrics and /debug: %w", addr, err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
	mux.Handle("/metrics", promhttp.Handler())
	if cp.Scheduler != nil {
		mux.Handle(scheduler.ExplainPath, cp.Scheduler.Handler())
	}
	cp.debug = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	cp.DebugURL = "http://" + ln.Addr().String()
	go func() { _ = cp.debug.Serve(ln) }()
	return nil
}

// Stop shuts the controllers and the API server down, then etcd. It may be
// called more than once.
func (cp *ControlPlane) Stop() { cp.stopOnce.Do(cp.stop) }

func (cp *ControlPlane) stop() {
	cp.cancel()
	if cp.debug != nil {
		_ = cp.debug.Close()
	}
	for _, done := range []chan error{cp.kubelet, cp.controllers, cp.scheduler} {
		if done == nil {
			continue
		}
		select {
		case <-done:
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
