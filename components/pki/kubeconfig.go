package pki

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Kubeconfig describes one cluster, one user and the context joining them: everything a client needs
// to reach an apiserver and prove who it is.
//
// A kubeconfig file is three maps and a pointer:
//
//	clusters:  name -> {server URL, CA to trust}
//	users:     name -> {client cert+key, or token}
//	contexts:  name -> {cluster name, user name, default namespace}
//	current-context: the context kubectl uses when --context is not given
type Kubeconfig struct {
	ClusterName string // names the cluster and the context (and, when merging, the user entry)
	Server      string // https://host:port of the apiserver
	CAPEM       []byte // CA bundle that signed the apiserver's serving certificate
	// User names the user entry of a standalone file (default ClusterName). It is only a label
	// inside the file: the identity the apiserver sees comes from the certificate's CN or the token.
	User          string
	ClientCertPEM []byte
	ClientKeyPEM  []byte
	Token         string
	Namespace     string // default namespace of the context; empty means "default"
}

// Write writes k as a standalone kubeconfig file (mode 0600, since it holds credentials), replacing
// any file at path. The context is named ClusterName and is the current context.
func (k Kubeconfig) Write(path string) error {
	if err := k.validate(); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	cfg := clientcmdapi.NewConfig()
	userName := k.User
	if userName == "" {
		userName = k.ClusterName
	}
	k.addTo(cfg, userName)
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return writeFileAtomic(path, data, 0o600)
}

// DefaultPath says which kubeconfig file a kubelab command reads and writes: flagValue (from
// --kubeconfig) if set, else the first entry of $KUBECONFIG, else ~/.kube/config. kubectl merges
// every file listed in $KUBECONFIG when reading, and writes new entries to the first one; taking
// the first one keeps kubelab's writes where kubectl would put them.
func DefaultPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	for _, p := range filepath.SplitList(os.Getenv(clientcmd.RecommendedConfigPathEnvVar)) {
		if p != "" {
			return p
		}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		// No home directory (a bare container): fall back to a path relative to the working directory.
		return filepath.Join(clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName)
	}
	return filepath.Join(home, clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName)
}

func (k Kubeconfig) validate() error {
	if k.ClusterName == "" {
		return errors.New("empty cluster name")
	}
	if k.Server == "" {
		return fmt.Errorf("cluster %q: empty server URL", k.ClusterName)
	}
	return nil
}

// addTo puts k's cluster, user (named userName) and context into cfg, replacing entries of the same
// names, and makes the context current.
func (k Kubeconfig) addTo(cfg *clientcmdapi.Config, userName string) {
	cluster := clientcmdapi.NewCluster()
	cluster.Server = k.Server
	cluster.CertificateAuthorityData = k.CAPEM
	cfg.Clusters[k.ClusterName] = cluster

	user := clientcmdapi.NewAuthInfo()
	user.ClientCertificateData = k.ClientCertPEM
	user.ClientKeyData = k.ClientKeyPEM
	user.Token = k.Token
	cfg.AuthInfos[userName] = user

	context := clientcmdapi.NewContext()
	context.Cluster = k.ClusterName
	context.AuthInfo = userName
	context.Namespace = k.Namespace
	cfg.Contexts[k.ClusterName] = context

	cfg.CurrentContext = k.ClusterName
}
