package pki

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Merge adds k to the kubeconfig file at path (created when missing) the way kind and minikube do
// with ~/.kube/config: the cluster, user and context are all named ClusterName, replace earlier
// entries of that name, and the context becomes current; every other entry, preference and
// extension is kept. The user entry is named after the cluster, not after k.User, because two
// clusters' "admin" users would otherwise overwrite each other.
func (k Kubeconfig) Merge(path string) error {
	if err := k.validate(); err != nil {
		return fmt.Errorf("merging into kubeconfig %s: %w", path, err)
	}
	return editKubeconfig(path, func(cfg *clientcmdapi.Config) bool {
		k.addTo(cfg, k.ClusterName)
		return true
	})
}

// RemoveContext deletes the context called name from the kubeconfig file at path, together with the
// cluster and user it refers to and any cluster or user literally called name — unless another
// context still uses them. If it was the current context, no context is current afterwards (kubectl
// then asks the user to pick one, rather than silently talking to some other cluster). A missing
// file or context is not an error: deleting twice is fine.
func RemoveContext(path, name string) error {
	return editKubeconfig(path, func(cfg *clientcmdapi.Config) bool {
		clusters := []string{name}
		users := []string{name}
		ctx, changed := cfg.Contexts[name]
		if ctx != nil {
			clusters = append(clusters, ctx.Cluster)
			users = append(users, ctx.AuthInfo)
		}
		delete(cfg.Contexts, name)
		for _, c := range clusters {
			if _, ok := cfg.Clusters[c]; ok && !referenced(cfg, func(ctx *clientcmdapi.Context) bool { return ctx.Cluster == c }) {
				delete(cfg.Clusters, c)
				changed = true
			}
		}
		for _, u := range users {
			if _, ok := cfg.AuthInfos[u]; ok && !referenced(cfg, func(ctx *clientcmdapi.Context) bool { return ctx.AuthInfo == u }) {
				delete(cfg.AuthInfos, u)
				changed = true
			}
		}
		if cfg.CurrentContext == name {
			cfg.CurrentContext = ""
			changed = true
		}
		return changed
	})
}

// referenced reports whether any context satisfies uses.
func referenced(cfg *clientcmdapi.Config, uses func(*clientcmdapi.Context) bool) bool {
	for _, ctx := range cfg.Contexts {
		if ctx != nil && uses(ctx) {
			return true
		}
	}
	return false
}

// editKubeconfig is read-modify-write under the kubeconfig lock. edit reports whether it changed
// anything; if not, the file is left untouched (and a missing file is not created).
func editKubeconfig(path string, edit func(*clientcmdapi.Config) bool) error {
	unlock, err := lockFile(path)
	if err != nil {
		return err
	}
	defer unlock()

	// Follow a symlinked ~/.kube/config (dotfile managers do this) so we rewrite its target
	// instead of replacing the link with a regular file.
	target := path
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		target = resolved
	}

	cfg := clientcmdapi.NewConfig()
	mode := fs.FileMode(0o600)
	data, err := os.ReadFile(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// start from an empty config
	case err != nil:
		return fmt.Errorf("reading kubeconfig %s: %w", path, err)
	default:
		if cfg, err = clientcmd.Load(data); err != nil {
			return fmt.Errorf("reading kubeconfig %s: %w", path, err)
		}
		// Keep the owner's choice of permissions, as kubectl does when it edits the file.
		if info, err := os.Stat(target); err == nil {
			mode = info.Mode().Perm()
		}
	}
	ensureMaps(cfg)

	if !edit(cfg) {
		return nil
	}
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return writeFileAtomic(target, out, mode)
}

// ensureMaps makes the maps of a decoded config writable (a file without "users:" decodes to nil).
func ensureMaps(cfg *clientcmdapi.Config) {
	if cfg.Clusters == nil {
		cfg.Clusters = map[string]*clientcmdapi.Cluster{}
	}
	if cfg.AuthInfos == nil {
		cfg.AuthInfos = map[string]*clientcmdapi.AuthInfo{}
	}
	if cfg.Contexts == nil {
		cfg.Contexts = map[string]*clientcmdapi.Context{}
	}
}
