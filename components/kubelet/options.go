package kubelet

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Options configure a kubelet. Field names follow the real kubelet's flags
// (--root-dir, --hostname-override, --node-ip, --cluster-dns, ...) so what a
// student learns here transfers.
type Options struct {
	// Kubeconfig is the kubelet's credentials for the API server.
	Kubeconfig string
	// NodeName is the Node this kubelet registers (--hostname-override);
	// empty = the host name.
	NodeName string
	// NodeIP is the InternalIP reported (--node-ip); empty = the first
	// global unicast address of this network namespace.
	NodeIP string
	// RootDir holds pods, images and runtime state (--root-dir,
	// default /var/lib/kubelet). PodLogsDir holds container logs
	// (default /var/log/pods).
	RootDir, PodLogsDir string
	// CgroupRoot is the relative cgroup every pod nests under
	// (--cgroup-root, default "kubelab/<node>"), so several kubelets can
	// share one host.
	CgroupRoot string

	// Address and Port are where the kubelet API listens (logs, exec);
	// TLSCertFile/TLSPrivateKeyFile its serving certificate, ClientCAFile
	// the CA that signs the API server's client certificate. Port 0 turns
	// the API off.
	Address                                      string
	Port                                         int
	TLSCertFile, TLSPrivateKeyFile, ClientCAFile string

	// ClusterDNS and ClusterDomain go into every pod's /etc/resolv.conf.
	ClusterDNS    []string
	ClusterDomain string

	// MaxPods, SystemReserved and KubeReserved shape the node's capacity
	// and allocatable.
	MaxPods                      int
	SystemReserved, KubeReserved map[string]string
	// NodeLabels and RegisterWithTaints go on the Node at registration.
	NodeLabels         map[string]string
	RegisterWithTaints []corev1.Taint

	// NodeStatusUpdateFrequency is how often node status is computed
	// (posted when it changed, or every NodeStatusReportFrequency);
	// NodeLeaseDurationSeconds is the heartbeat lease (renewed every
	// quarter of it).
	NodeStatusUpdateFrequency, NodeStatusReportFrequency time.Duration
	NodeLeaseDurationSeconds                             int32
	// SyncFrequency is how often every pod is re-synced even without events.
	SyncFrequency time.Duration
	// KubeAPIQPS and KubeAPIBurst rate-limit the kubelet's API calls
	// (heartbeats are exempt), --kube-api-qps/--kube-api-burst.
	KubeAPIQPS, KubeAPIBurst int

	// Network: how pods get addresses and reach other nodes.
	// NetworkMode is "routes" (host-gw routes to peers' pod CIDRs), "vxlan"
	// (an overlay) or "none" (one node: a bridge, no peers).
	NetworkMode string
	BridgeName  string
	MTU         int
	// PodCIDR is used when the node has no spec.podCIDR (no node IPAM
	// controller), like the kubelet's --pod-cidr.
	PodCIDR string

	// PreloadImages imports the kit's own images (busybox, testserver) at
	// start, so pods run with no registry at all. BusyboxPath and
	// TestServerBinary locate their sources (defaults: /bin/busybox and
	// bin/testserver next to this binary).
	PreloadImages                 bool
	BusyboxPath, TestServerBinary string
	// ImageGCHighThresholdPercent / Low: image GC starts above high disk
	// use and frees down to low.
	ImageGCHighThresholdPercent, ImageGCLowThresholdPercent int
	// InsecureRegistries may be pulled from over plain HTTP.
	InsecureRegistries []string
}

// Defaults fills unset fields with the kubelet's defaults.
func (o *Options) Defaults() error {
	if o.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("node name: no --hostname-override and no host name: %w", err)
		}
		o.NodeName = strings.ToLower(h)
	}
	if o.RootDir == "" {
		o.RootDir = "/var/lib/kubelet"
	}
	if o.PodLogsDir == "" {
		o.PodLogsDir = "/var/log/pods"
	}
	if o.CgroupRoot == "" {
		o.CgroupRoot = "kubelab/" + o.NodeName
	}
	o.CgroupRoot = strings.Trim(o.CgroupRoot, "/")
	if o.Address == "" {
		o.Address = "0.0.0.0"
	}
	if o.ClusterDomain == "" {
		o.ClusterDomain = "cluster.local"
	}
	if o.MaxPods == 0 {
		o.MaxPods = 110
	}
	if o.NodeStatusUpdateFrequency == 0 {
		o.NodeStatusUpdateFrequency = 10 * time.Second
	}
	if o.NodeStatusReportFrequency == 0 {
		o.NodeStatusReportFrequency = 5 * time.Minute
	}
	if o.NodeLeaseDurationSeconds == 0 {
		o.NodeLeaseDurationSeconds = 40
	}
	if o.KubeAPIQPS == 0 {
		o.KubeAPIQPS = 100
	}
	if o.KubeAPIBurst == 0 {
		o.KubeAPIBurst = 200
	}
	if o.SyncFrequency == 0 {
		o.SyncFrequency = 10 * time.Second
	}
	if o.NetworkMode == "" {
		o.NetworkMode = "none"
	}
	if o.BridgeName == "" {
		o.BridgeName = "cni0"
	}
	if o.MTU == 0 {
		o.MTU = 1500
	}
	if o.BusyboxPath == "" {
		o.BusyboxPath = "/bin/busybox"
	}
	if o.ImageGCHighThresholdPercent == 0 {
		o.ImageGCHighThresholdPercent = 85
	}
	if o.ImageGCLowThresholdPercent == 0 {
		o.ImageGCLowThresholdPercent = 80
	}
	return o.validate()
}

func (o *Options) validate() error {
	var errs []error
	switch o.NetworkMode {
	case "routes", "vxlan", "none":
	default:
		errs = append(errs, fmt.Errorf("--network-mode %q: want routes, vxlan or none", o.NetworkMode))
	}
	if o.NodeIP != "" && net.ParseIP(o.NodeIP) == nil {
		errs = append(errs, fmt.Errorf("--node-ip %q is not an IP address", o.NodeIP))
	}
	for _, ip := range o.ClusterDNS {
		if net.ParseIP(ip) == nil {
			errs = append(errs, fmt.Errorf("--cluster-dns %q is not an IP address", ip))
		}
	}
	if o.PodCIDR != "" {
		if _, _, err := net.ParseCIDR(o.PodCIDR); err != nil {
			errs = append(errs, fmt.Errorf("--pod-cidr %q: %w", o.PodCIDR, err))
		}
	}
	for _, m := range []map[string]string{o.SystemReserved, o.KubeReserved} {
		for k, v := range m {
			if _, err := resource.ParseQuantity(v); err != nil {
				errs = append(errs, fmt.Errorf("reserved %s=%q: %w", k, v, err))
			}
		}
	}
	if o.Port != 0 && (o.TLSCertFile == "" || o.TLSPrivateKeyFile == "") {
		errs = append(errs, errors.New("the kubelet API (--port) needs --tls-cert-file and --tls-private-key-file (or --port 0 to turn it off)"))
	}
	if !filepath.IsAbs(o.RootDir) {
		errs = append(errs, fmt.Errorf("--root-dir %q must be absolute", o.RootDir))
	}
	return errors.Join(errs...)
}
