// Command kube-apiserver serves the Kubernetes API over etcd.
// All the logic lives in components/apiserver; this is flags and signals.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubelab/kubelab/components/apiserver"
	"github.com/kubelab/kubelab/components/logging"
	"github.com/kubelab/kubelab/components/version"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "kube-apiserver:", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	var (
		o         apiserver.Options
		logFormat string
		verbosity int
	)
	cmd := &cobra.Command{
		Use:   "kube-apiserver",
		Short: "Serve the Kubernetes API (REST + watch) over etcd",
		Long: `kube-apiserver is the hub of a cluster: every other component and kubectl
talk to it, and only it talks to etcd. It validates and stores objects
(/registry/<resource>/<namespace>/<name> in etcd), and streams changes to
watchers. It serves HTTPS only.

Example (the hard way's controller node):

  kube-apiserver --etcd-servers=http://127.0.0.1:2379 \
    --client-ca-file=ca.pem --tls-cert-file=kubernetes.pem \
    --tls-private-key-file=kubernetes-key.pem \
    --service-cluster-ip-range=10.32.0.0/24`,
		SilenceUsage: true,
		Args:         cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := logging.Setup(logFormat, verbosity); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return apiserver.Run(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.EtcdServers, "etcd-servers", nil, "etcd client URLs, comma separated (e.g. http://127.0.0.1:2379)")
	f.StringVar(&o.EtcdCAFile, "etcd-cafile", "", "CA bundle to verify etcd's serving certificate")
	f.StringVar(&o.EtcdCertFile, "etcd-certfile", "", "client certificate for etcd")
	f.StringVar(&o.EtcdKeyFile, "etcd-keyfile", "", "client key for etcd")
	f.StringVar(&o.BindAddress, "bind-address", "0.0.0.0", "IP address to serve HTTPS on")
	f.IntVar(&o.SecurePort, "secure-port", 6443, "port to serve HTTPS on")
	f.StringVar(&o.AdvertiseAddress, "advertise-address", "", "IP the kubernetes Service's endpoints point at (default: bind address, or 127.0.0.1)")
	f.StringVar(&o.TLSCertFile, "tls-cert-file", "", "serving certificate (default: a self-signed one in --cert-dir)")
	f.StringVar(&o.TLSPrivateKeyFile, "tls-private-key-file", "", "serving key")
	f.StringVar(&o.CertDir, "cert-dir", "/var/run/kubelab/apiserver", "where a self-signed serving certificate is kept when --tls-cert-file is not given")
	f.StringVar(&o.ClientCAFile, "client-ca-file", "", "CA bundle for client certificates (user = CN, groups = O)")
	f.StringVar(&o.TokenAuthFile, "token-auth-file", "", "static bearer tokens, CSV: token,user,uid,\"group1,group2\"")
	f.BoolVar(&o.AnonymousAuth, "anonymous-auth", false, "let requests without credentials in as system:anonymous")
	f.StringVar(&o.ServiceClusterIPRange, "service-cluster-ip-range", "10.32.0.0/24", "CIDR(s) for Service cluster IPs (two, comma separated, for dual-stack)")
	f.StringVar(&o.ServiceNodePortRange, "service-node-port-range", "30000-32767", "port range for NodePort Services")
	f.Int64Var(&o.DefaultNotReadyTolerationSeconds, "default-not-ready-toleration-seconds", 300, "tolerationSeconds of the node.kubernetes.io/not-ready:NoExecute toleration added to every pod that has none")
	f.Int64Var(&o.DefaultUnreachableTolerationSeconds, "default-unreachable-toleration-seconds", 300, "tolerationSeconds of the node.kubernetes.io/unreachable:NoExecute toleration added to every pod that has none")
	f.StringVar(&o.KubeletClientCertificate, "kubelet-client-certificate", "", "client certificate presented to kubelets (logs, exec); their --client-ca-file must trust it")
	f.StringVar(&o.KubeletClientKey, "kubelet-client-key", "", "key of --kubelet-client-certificate")
	f.StringVar(&o.KubeletCertificateAuthority, "kubelet-certificate-authority", "", "CA bundle to verify kubelets' serving certificates (default: not verified)")
	f.StringSliceVar(&o.KubeletPreferredAddressTypes, "kubelet-preferred-address-types", []string{"InternalIP", "Hostname", "ExternalIP"}, "node status.addresses types to try, in order, when connecting to a kubelet")
	f.DurationVar(&o.KubeletTimeout, "kubelet-timeout", 5*time.Second, "timeout for connecting to a kubelet")
	f.DurationVar(&o.EventTTL, "event-ttl", time.Hour, "how long Events are kept before etcd expires them")
	f.IntVar(&o.WatchCacheSize, "watch-cache-size", 4096, "recent events kept per resource for resuming watches")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.IntVarP(&verbosity, "v", "v", 0, "log verbosity (1 = debug)")
	version.SetCommand(cmd)
	return cmd
}
