package cluster

import (
	"github.com/vishvananda/netlink"

	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubelab/kubelab/components/kubelet"
	"github.com/kubelab/kubelab/components/pki"
)

// NodeCredentials are the files a kubelet needs: a kubeconfig with a client
// certificate CN=system:node:<name>, O=system:nodes (the identity the node
// authorizer will expect), and a serving certificate for the kubelet API
// whose SANs are the node's name and IPs, signed by the cluster CA so the
// API server can verify it.
type NodeCredentials struct {
	Kubeconfig, CertFile, KeyFile, CAFile string
}

// IssueNodeCredentials writes a node's credentials into dir, signed by the
// CA in pkiDir (ca.crt, ca.key), for an API server at serverURL.
func IssueNodeCredentials(pkiDir, dir, clusterName, serverURL, node string, ips []net.IP) (*NodeCredentials, error) {
	caCert := filepath.Join(pkiDir, "ca.crt")
	ca, err := pki.LoadCA(caCert, filepath.Join(pkiDir, "ca.key"))
	if err != nil {
		return nil, fmt.Errorf("load the cluster CA for node %s: %w", node, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	kp, err := ca.Issue(pki.CertSpec{
		CommonName: "system:node:" + node, Organizations: []string{"system:nodes"},
		DNSNames: []string{node, "localhost"}, IPs: append(ips, net.IPv4(127, 0, 0, 1)),
		Server: true, Client: true,
	})
	if err != nil {
		return nil, fmt.Errorf("issue the certificate of node %s: %w", node, err)
	}
	c := &NodeCredentials{
		Kubeconfig: filepath.Join(dir, "kubeconfig"),
		CertFile:   filepath.Join(dir, "kubelet.crt"),
		KeyFile:    filepath.Join(dir, "kubelet.key"),
		CAFile:     caCert,
	}
	if err := kp.WriteFiles(c.CertFile, c.KeyFile); err != nil {
		return nil, err
	}
	kc := pki.Kubeconfig{ClusterName: clusterName, Server: serverURL, CAPEM: ca.CertPEM,
		User: "system:node:" + node, ClientCertPEM: kp.CertPEM, ClientKeyPEM: kp.KeyPEM}
	if err := kc.Write(c.Kubeconfig); err != nil {
		return nil, err
	}
	return c, nil
}

// LocalKubeletOptions configure the kubelet `kubelab up` runs in-process for
// this machine.
type LocalKubeletOptions struct {
	// NodeName defaults to the host name.
	NodeName string
	// Port of the kubelet API (default 10250; -1: a free port).
	Port int
	// ClusterDNS goes into pods' resolv.conf (default 10.32.0.10).
	ClusterDNS []string
	// Lab: heartbeat every second, for LabTimings' 4 s grace period.
	Lab bool
	// Taints are registered with the node (--register-with-taints).
	Taints []corev1.Taint
	// PodCIDR is the node's pod network when the control plane does not
	// allocate node CIDRs (default 10.200.0.0/24 then).
	PodCIDR string
	// Bridge is the pod bridge (default cni0); test clusters pick their
	// own, so they run beside a user's `kubelab up`.
	Bridge string
}

// StartKubelet runs a kubelet for this machine against the control plane,
// in this process, and returns once its node is Ready. Its state lives in
// Dir/node; pods keep running if the process stops, and the next
// StartKubelet adopts them.
func (cp *ControlPlane) StartKubelet(ctx context.Context, o LocalKubeletOptions) (*kubelet.Kubelet, error) {
	if o.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("node name: %w", err)
		}
		o.NodeName = strings.ToLower(h)
	}
	if o.Port == 0 {
		o.Port = 10250
	}
	port, err := freePort(o.Port) // taken (a second cluster): any free one
	if err != nil {
		return nil, err
	}
	if len(o.ClusterDNS) == 0 {
		o.ClusterDNS = []string{"10.32.0.10"}
	}
	if o.PodCIDR == "" && !cp.allocatesCIDRs {
		o.PodCIDR = "10.200.0.0/24"
	}
	dir := filepath.Join(cp.Dir, "node")
	kopts := kubelet.Options{
		NodeName: o.NodeName, RootDir: filepath.Join(dir, "root"), PodLogsDir: filepath.Join(dir, "logs"),
		CgroupRoot: upCgroupRoot(cp.Name, cp.Dir), Port: port, Address: "0.0.0.0",
		ClusterDNS: o.ClusterDNS, NetworkMode: "none", PreloadImages: true, RegisterWithTaints: o.Taints, PodCIDR: o.PodCIDR, BridgeName: o.Bridge,
		// Where IssueNodeCredentials writes them (below, once the node's
		// address is known).
		TLSCertFile: filepath.Join(dir, "pki", "kubelet.crt"), TLSPrivateKeyFile: filepath.Join(dir, "pki", "kubelet.key"),
	}
	if o.Lab {
		kopts.NodeLeaseDurationSeconds = 4
		kopts.NodeStatusUpdateFrequency = time.Second
	}
	if err := kopts.Defaults(); err != nil {
		return nil, err
	}
	if err := bridgeFree(kopts.BridgeName, kopts.RootDir, cp.Name); err != nil {
		return nil, err
	}
	// The node's address, for its serving certificate.
	probe := kopts
	ip, err := kubelet.NodeIP(&probe)
	if err != nil {
		return nil, err
	}
	creds, err := IssueNodeCredentials(filepath.Join(cp.Dir, "pki"), filepath.Join(dir, "pki"), cp.Name, cp.URL, o.NodeName, []net.IP{ip})
	if err != nil {
		return nil, err
	}
	kopts.Kubeconfig, kopts.TLSCertFile, kopts.TLSPrivateKeyFile, kopts.ClientCAFile = creds.Kubeconfig, creds.CertFile, creds.KeyFile, creds.CAFile
	k, err := kubelet.New(kopts)
	if err != nil {
		return nil, err
	}
	cp.kubelet = make(chan error, 1)
	go func() { cp.kubelet <- k.Run(cp.ctx) }()
	if err := waitNodeReady(ctx, cp.AdminKubeconfig, o.NodeName, cp.kubelet); err != nil {
		return nil, err
	}
	return k, nil
}

// KubeletDone reports when the in-process kubelet stops.
func (cp *ControlPlane) KubeletDone() <-chan error { return cp.kubelet }

// waitNodeReady polls until the node's Ready condition is True.
func waitNodeReady(ctx context.Context, kubeconfig, node string, failed <-chan error) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	why := "not registered"
	for {
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err == nil {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return nil
				}
				if c.Type == corev1.NodeReady {
					why = c.Message
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s not Ready after 60s: %s", node, why)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-failed:
			if err == nil {
				err = errors.New("stopped")
			}
			return fmt.Errorf("kubelet: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// bridgeFree refuses to share the pod bridge with another cluster's node:
// two kubelets on one bridge would hand out the same pod IPs. The bridge
// is ours when our root dir recorded it (a restart of this cluster).
func bridgeFree(bridge, rootDir, cluster string) error {
	if _, err := netlink.LinkByName(bridge); err != nil {
		return nil // no such bridge: ours to create
	}
	if _, err := os.Stat(filepath.Join(rootDir, "network", "config.json")); err == nil {
		return nil
	}
	return fmt.Errorf("the pod bridge %s already exists on this machine: another cluster's kubelet uses it (or was stopped without 'kubelab down'), and two nodes on one bridge would give pods the same IPs. "+
		"Remove that cluster with 'sudo kubelab down --name <its name>' (or 'ip link del %s' if nothing uses it), run this one with --no-kubelet, or use 'kubelab cluster create' for more clusters side by side (cluster %q)", bridge, bridge, cluster)
}
