package cluster

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubelab/kubelab/components/pki"
)

// Per-node files, the hard way's "kubelet certificates" and "kubeconfigs"
// labs done for each network-namespace node:
//
//	<dir>/nodes/<node>/kubeconfig        CN=system:node:<node>, O=system:nodes
//	<dir>/nodes/<node>/pki/kubelet.crt   serving cert, SANs <node> and its IP
//	<dir>/nodes/<node>/root/             --root-dir (pods, images, state)
//	<dir>/nodes/<node>/logs/             --pod-logs-dir
//	<dir>/logs/<node>.log                the kubelet's own log

// nodeDir is a node's directory in the cluster state.
func nodeDir(dir, node string) string { return filepath.Join(dir, "nodes", node) }

// controlPlaneDir is `kubelab up --dir` for the cluster's control plane.
func controlPlaneDir(dir string) string { return filepath.Join(dir, "controlplane") }

// writeNodeCredentials issues node's client and serving certificates from
// the control plane's CA and writes its kubeconfig.
func writeNodeCredentials(dir, cluster, server string, n nodeState) error {
	pkiDir := filepath.Join(controlPlaneDir(dir), "pki")
	ca, err := pki.LoadCA(filepath.Join(pkiDir, "ca.crt"), filepath.Join(pkiDir, "ca.key"))
	if err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	// The node authorizer knows a kubelet by this name and group.
	client, err := ca.Issue(pki.CertSpec{CommonName: "system:node:" + n.Name, Organizations: []string{"system:nodes"}, Client: true})
	if err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	// The API server dials the kubelet at its InternalIP for logs and exec.
	serving, err := ca.Issue(pki.CertSpec{CommonName: n.Name, Server: true, DNSNames: []string{n.Name}, IPs: []net.IP{net.ParseIP(n.IP)}})
	if err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	nd := nodeDir(dir, n.Name)
	if err := serving.WriteFiles(filepath.Join(nd, "pki", "kubelet.crt"), filepath.Join(nd, "pki", "kubelet.key")); err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	kc := pki.Kubeconfig{ClusterName: cluster, Server: server, CAPEM: ca.CertPEM, User: "system:node:" + n.Name,
		ClientCertPEM: client.CertPEM, ClientKeyPEM: client.KeyPEM}
	return kc.Write(filepath.Join(nd, "kubeconfig"))
}

// kubeletArgs are the flags of node n's kubelet: the same flags a Vagrant
// worker's systemd unit passes, with paths inside the cluster's state.
func kubeletArgs(dir, cluster, network string, n nodeState) []string {
	nd := nodeDir(dir, n.Name)
	return []string{
		"--kubeconfig", filepath.Join(nd, "kubeconfig"),
		"--hostname-override", n.Name,
		"--node-ip", n.IP,
		"--root-dir", filepath.Join(nd, "root"),
		"--pod-logs-dir", filepath.Join(nd, "logs"),
		"--cgroup-root", cgroupRoot(cluster) + "/" + n.Name,
		"--network-mode", network,
		"--tls-cert-file", filepath.Join(nd, "pki", "kubelet.crt"),
		"--tls-private-key-file", filepath.Join(nd, "pki", "kubelet.key"),
		"--client-ca-file", filepath.Join(controlPlaneDir(dir), "pki", "ca.crt"),
		"--cluster-dns", "10.32.0.10",
		"--port", strconv.Itoa(10250),
	}
}

// kubeletEnv names the node's namespace for the kubelet's netnsenter hook
// (components/kubelet/netnsenter), which enters it before the Go runtime
// starts: what a kubelet started by hand, outside this harness, relies on.
// Not `ip netns exec`: that also gives the process a private mount
// namespace, hiding the kubelet's mounts from the next kubelet after a
// restart.
func kubeletEnv(n nodeState) []string { return []string{"KUBELAB_NETNS=" + netnsPath(n.Netns)} }

// apiServerURL reads the server URL `kubelab up` wrote into the admin
// kubeconfig, so nodes use exactly what the control plane reports.
func apiServerURL(adminKubeconfig string) (string, error) {
	cfg, err := clientcmd.LoadFromFile(adminKubeconfig)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", adminKubeconfig, err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil || cfg.Clusters[ctx.Cluster] == nil {
		return "", fmt.Errorf("%s: no current context with a cluster", adminKubeconfig)
	}
	return cfg.Clusters[ctx.Cluster].Server, nil
}

// findBinary locates a program: the given path, else next to each of the
// near binaries (bin/kubelet beside bin/kubelab), else $PATH.
func findBinary(given, name string, near ...string) (string, error) {
	if given != "" {
		if _, err := os.Stat(given); err != nil {
			return "", fmt.Errorf("%s binary: %w", name, err)
		}
		return given, nil
	}
	var looked []string
	for _, n := range near {
		if n == "" || slices.Contains(looked, filepath.Dir(n)) {
			continue
		}
		looked = append(looked, filepath.Dir(n))
		p := filepath.Join(filepath.Dir(n), name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no %s binary in %s or on $PATH: build it with `make build` or `go build -o bin/%s ./cmd/%s`", name, strings.Join(looked, ", "), name, name)
}

// kubelabBinary is the kubelab binary that runs the control plane: this
// program when it is kubelab, else one found like findBinary.
func kubelabBinary(given string) (string, error) {
	if given != "" {
		return findBinary(given, "kubelab")
	}
	self, err := os.Executable()
	if err == nil && filepath.Base(self) == "kubelab" {
		return self, nil
	}
	return findBinary("", "kubelab", self)
}
