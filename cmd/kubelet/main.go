// Command kubelet is the node agent: it registers this machine as a Node
// and runs the pods the scheduler binds to it, with runc's libcontainer (no
// containerd). All the logic lives in components/kubelet; this is flags and
// signals.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/kubelab/kubelab/components/kubelet"
	// A kubelet started with KUBELAB_NETNS=<file> runs in that network
	// namespace (how `kubelab cluster create` starts its nodes).
	_ "github.com/kubelab/kubelab/components/kubelet/netnsenter"
	"github.com/kubelab/kubelab/components/logging"
	"github.com/kubelab/kubelab/components/version"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "kubelet:", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	var (
		o          kubelet.Options
		configFile string
		logFormat  string
		verbosity  int
		labels     map[string]string
		taints     []string
		clusterDNS []string
	)
	cmd := &cobra.Command{
		Use:   "kubelet",
		Short: "Run the pods bound to this node",
		Long: `kubelet registers this machine as a Node, heartbeats a Lease in
kube-node-lease, and runs the pods the scheduler binds to the node:

  sandbox      network, UTS and IPC namespaces pinned under --root-dir
  network      bridge cni0, a veth and an address from node.spec.podCIDR per pod,
               routes or a VXLAN overlay to the other nodes (--network-mode)
  containers   runc libcontainer: an overlay rootfs per container, cgroups for
               requests and limits, a small monitor process per container so
               containers outlive a kubelet restart
  status       phase, conditions and container states written to pods/status

It serves the kubelet API on --port (10250, HTTPS, client certificates) for
kubectl logs and kubectl exec, which the API server proxies.

Must run as root. Flags follow the real kubelet; --config reads a
KubeletConfiguration file, and flags given explicitly override it.`,
		Example: `  # the hard way's worker:
  kubelet --config=/var/lib/kubelet/kubelet-config.yaml \
    --kubeconfig=/var/lib/kubelet/kubeconfig --network-mode=routes

  # a quick node with its own pod CIDR (no node IPAM controller):
  kubelet --kubeconfig=node.kubeconfig --pod-cidr=10.200.0.0/24 --port=0`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := logging.Setup(logFormat, verbosity); err != nil {
				return err
			}
			if os.Geteuid() != 0 {
				return fmt.Errorf("the kubelet must run as root (it creates namespaces, mounts and cgroups); try: sudo %s", strings.Join(os.Args, " "))
			}
			if configFile != "" {
				// The file first, then every flag the user set explicitly.
				var fromFile kubelet.Options
				if err := kubelet.LoadConfigFile(configFile, &fromFile); err != nil {
					return err
				}
				o = mergeFlags(cmd, fromFile, o)
			}
			o.NodeLabels = labels
			for _, t := range taints {
				taint, err := parseTaint(t)
				if err != nil {
					return err
				}
				o.RegisterWithTaints = append(o.RegisterWithTaints, taint)
			}
			if len(clusterDNS) > 0 {
				o.ClusterDNS = clusterDNS
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return kubelet.Run(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "a KubeletConfiguration file (kubelet.config.k8s.io/v1beta1); explicit flags override it")
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "credentials for the API server")
	f.StringVar(&o.NodeName, "hostname-override", "", "the Node name to register (default: the host name)")
	f.StringVar(&o.NodeIP, "node-ip", "", "the node's InternalIP (default: the first global address of this network namespace)")
	f.StringVar(&o.RootDir, "root-dir", "/var/lib/kubelet", "where pods, images and runtime state live")
	f.StringVar(&o.PodLogsDir, "pod-logs-dir", "/var/log/pods", "where container logs are written")
	f.StringVar(&o.CgroupRoot, "cgroup-root", "", "relative cgroup all pods nest under (default kubelab/<node name>)")
	f.StringVar(&o.Address, "address", "0.0.0.0", "address the kubelet API listens on")
	f.IntVar(&o.Port, "port", 10250, "port of the kubelet API (HTTPS); 0 turns it off")
	f.StringVar(&o.TLSCertFile, "tls-cert-file", "", "the kubelet API's serving certificate (its SANs must include the node's address)")
	f.StringVar(&o.TLSPrivateKeyFile, "tls-private-key-file", "", "the serving certificate's key")
	f.StringVar(&o.ClientCAFile, "client-ca-file", "", "CA that signs clients of the kubelet API (the API server's kubelet client certificate)")
	f.StringSliceVar(&clusterDNS, "cluster-dns", nil, "DNS server IPs written into pods' resolv.conf (e.g. 10.32.0.10)")
	f.StringVar(&o.ClusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain")
	f.IntVar(&o.MaxPods, "max-pods", 110, "how many pods this node takes")
	f.StringToStringVar(&o.SystemReserved, "system-reserved", nil, "resources kept for the OS, e.g. cpu=100m,memory=256Mi")
	f.StringToStringVar(&o.KubeReserved, "kube-reserved", nil, "resources kept for Kubernetes daemons")
	f.StringToStringVar(&labels, "node-labels", nil, "labels added to the Node at registration")
	f.StringSliceVar(&taints, "register-with-taints", nil, "taints added at registration, key=value:Effect")
	f.StringVar(&o.NetworkMode, "network-mode", "routes", "how pods reach other nodes: routes (host-gw), vxlan (overlay) or none")
	f.StringVar(&o.BridgeName, "bridge", "cni0", "the pod bridge")
	f.IntVar(&o.MTU, "mtu", 1500, "the node network's MTU (vxlan pods get 50 less)")
	f.StringVar(&o.PodCIDR, "pod-cidr", "", "pod CIDR to use when the node has none from the node IPAM controller")
	f.BoolVar(&o.PreloadImages, "preload-images", true, "import the kit's own images (localhost/kubelab/busybox:v1, localhost/kubelab/testserver:v1)")
	f.StringVar(&o.TestServerBinary, "testserver-binary", "", "the static testserver binary for the testserver image (default: bin/testserver next to this binary)")
	f.StringSliceVar(&o.InsecureRegistries, "insecure-registry", nil, "registries (host:port) pulled from over plain HTTP")
	f.IntVar(&o.KubeAPIQPS, "kube-api-qps", 100, "API calls per second (heartbeats are not limited)")
	f.IntVar(&o.KubeAPIBurst, "kube-api-burst", 200, "API call burst")
	f.DurationVar(&o.NodeStatusUpdateFrequency, "node-status-update-frequency", 0, "how often node status is computed (default 10s)")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.IntVarP(&verbosity, "v", "v", 0, "log verbosity (4+ = debug)")
	version.SetCommand(cmd)
	return cmd
}

// mergeFlags starts from the config file's options and applies every flag
// the user set on the command line.
func mergeFlags(cmd *cobra.Command, file, flags kubelet.Options) kubelet.Options {
	out := file
	changed := func(name string) bool { return cmd.Flags().Changed(name) }
	if out.Kubeconfig == "" || changed("kubeconfig") {
		out.Kubeconfig = flags.Kubeconfig
	}
	pick := func(name string, dst *string, v string) {
		if changed(name) || *dst == "" {
			*dst = v
		}
	}
	pick("hostname-override", &out.NodeName, flags.NodeName)
	pick("node-ip", &out.NodeIP, flags.NodeIP)
	pick("root-dir", &out.RootDir, flags.RootDir)
	pick("pod-logs-dir", &out.PodLogsDir, flags.PodLogsDir)
	pick("cgroup-root", &out.CgroupRoot, flags.CgroupRoot)
	pick("address", &out.Address, flags.Address)
	pick("tls-cert-file", &out.TLSCertFile, flags.TLSCertFile)
	pick("tls-private-key-file", &out.TLSPrivateKeyFile, flags.TLSPrivateKeyFile)
	pick("client-ca-file", &out.ClientCAFile, flags.ClientCAFile)
	pick("cluster-domain", &out.ClusterDomain, flags.ClusterDomain)
	pick("pod-cidr", &out.PodCIDR, flags.PodCIDR)
	if changed("port") || out.Port == 0 {
		out.Port = flags.Port
	}
	if changed("max-pods") || out.MaxPods == 0 {
		out.MaxPods = flags.MaxPods
	}
	if changed("system-reserved") {
		out.SystemReserved = flags.SystemReserved
	}
	if changed("kube-reserved") {
		out.KubeReserved = flags.KubeReserved
	}
	if changed("node-status-update-frequency") {
		out.NodeStatusUpdateFrequency = flags.NodeStatusUpdateFrequency
	}
	if changed("kube-api-qps") || out.KubeAPIQPS == 0 {
		out.KubeAPIQPS = flags.KubeAPIQPS
	}
	if changed("kube-api-burst") || out.KubeAPIBurst == 0 {
		out.KubeAPIBurst = flags.KubeAPIBurst
	}
	out.NetworkMode, out.BridgeName, out.MTU = flags.NetworkMode, flags.BridgeName, flags.MTU
	out.PreloadImages, out.TestServerBinary, out.InsecureRegistries = flags.PreloadImages, flags.TestServerBinary, flags.InsecureRegistries
	return out
}

// parseTaint parses key=value:Effect or key:Effect.
func parseTaint(s string) (corev1.Taint, error) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return corev1.Taint{}, fmt.Errorf("--register-with-taints %q: want key=value:Effect", s)
	}
	key, value, _ := strings.Cut(kv, "=")
	switch e := corev1.TaintEffect(effect); e {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		return corev1.Taint{Key: key, Value: value, Effect: e}, nil
	}
	return corev1.Taint{}, fmt.Errorf("--register-with-taints %q: effect must be NoSchedule, PreferNoSchedule or NoExecute", s)
}
