package pki

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func TestKubeconfigWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		k        Kubeconfig
		wantUser string
	}{
		{
			name:     "client certificate, user named",
			k:        Kubeconfig{ClusterName: "kubelab", Server: "https://10.240.0.10:6443", CAPEM: []byte("ca"), User: "admin", ClientCertPEM: []byte("cert"), ClientKeyPEM: []byte("key")},
			wantUser: "admin",
		},
		{
			name:     "token, user defaults to cluster name",
			k:        Kubeconfig{ClusterName: "lab", Server: "https://127.0.0.1:6443", CAPEM: []byte("ca"), Token: "s3cret", Namespace: "dev"},
			wantUser: "lab",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "sub", "admin.kubeconfig")
			if err := tt.k.Write(path); err != nil {
				t.Fatal(err)
			}
			assertMode(t, path, 0o600)
			cfg, err := clientcmd.LoadFromFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.CurrentContext != tt.k.ClusterName || len(cfg.Contexts) != 1 || len(cfg.Clusters) != 1 || len(cfg.AuthInfos) != 1 {
				t.Fatalf("config = %+v, want exactly one current context %q", cfg, tt.k.ClusterName)
			}
			assertEntries(t, cfg, tt.k, tt.wantUser)
		})
	}
}

func TestKubeconfigValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		k    Kubeconfig
	}{
		{"no cluster name", Kubeconfig{Server: "https://x"}},
		{"no server", Kubeconfig{ClusterName: "lab"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "config")
			if err := tt.k.Write(path); err == nil {
				t.Error("Write succeeded")
			}
			if err := tt.k.Merge(path); err == nil {
				t.Error("Merge succeeded")
			}
			if _, err := os.Stat(path); err == nil {
				t.Error("a file was written")
			}
		})
	}
}

func TestKubeconfigMerge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	// Someone's existing ~/.kube/config, with a context, preferences and a relative file path that
	// must all survive.
	existing := clientcmdapi.NewConfig()
	existing.Clusters["prod"] = &clientcmdapi.Cluster{Server: "https://prod:6443", CertificateAuthority: "certs/prod-ca.crt"}
	existing.AuthInfos["prod-admin"] = &clientcmdapi.AuthInfo{Token: "prod-token"}
	existing.Contexts["prod"] = &clientcmdapi.Context{Cluster: "prod", AuthInfo: "prod-admin", Namespace: "web"}
	existing.CurrentContext = "prod"
	existing.Preferences.Colors = true
	if err := clientcmd.WriteToFile(*existing, path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}

	first := Kubeconfig{ClusterName: "kubelab", Server: "https://127.0.0.1:6443", CAPEM: []byte("ca1"), User: "admin", ClientCertPEM: []byte("c1"), ClientKeyPEM: []byte("k1")}
	second := first
	second.Server, second.CAPEM, second.ClientCertPEM = "https://127.0.0.1:7443", []byte("ca2"), []byte("c2")

	for _, step := range []struct {
		name string
		k    Kubeconfig
	}{{"add", first}, {"replace", second}} {
		t.Run(step.name, func(t *testing.T) {
			if err := step.k.Merge(path); err != nil {
				t.Fatal(err)
			}
			cfg, err := clientcmd.LoadFromFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.CurrentContext != "kubelab" {
				t.Errorf("current-context = %q, want kubelab", cfg.CurrentContext)
			}
			if len(cfg.Contexts) != 2 || len(cfg.Clusters) != 2 || len(cfg.AuthInfos) != 2 {
				t.Errorf("want 2 contexts, clusters and users, got %d, %d, %d", len(cfg.Contexts), len(cfg.Clusters), len(cfg.AuthInfos))
			}
			// Merged entries are all named after the cluster, whatever k.User says.
			assertEntries(t, cfg, step.k, "kubelab")
			prod := cfg.Contexts["prod"]
			if prod == nil || prod.AuthInfo != "prod-admin" || prod.Namespace != "web" ||
				cfg.Clusters["prod"].CertificateAuthority != "certs/prod-ca.crt" || cfg.AuthInfos["prod-admin"].Token != "prod-token" {
				t.Errorf("existing prod entries changed: %+v", cfg)
			}
			if !cfg.Preferences.Colors {
				t.Error("preferences lost")
			}
			assertMode(t, path, 0o640)
		})
	}
}

func TestKubeconfigMergeCreatesFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".kube", "config")
	k := Kubeconfig{ClusterName: "kubelab", Server: "https://127.0.0.1:6443", Token: "t"}
	if err := k.Merge(path); err != nil {
		t.Fatal(err)
	}
	assertMode(t, path, 0o600)
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	assertEntries(t, cfg, k, "kubelab")
}

func TestKubeconfigMergeConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config")
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			k := Kubeconfig{ClusterName: fmt.Sprintf("c%d", i), Server: "https://127.0.0.1:6443"}
			errs <- k.Merge(path)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Contexts) != n {
		t.Errorf("got %d contexts, want %d: a concurrent merge lost an update", len(cfg.Contexts), n)
	}
	if _, err := os.Stat(path + ".lock"); err == nil {
		t.Error("lock file left behind")
	}
}

func TestKubeconfigMergeFollowsSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target, link := filepath.Join(dir, "dotfiles-kubeconfig"), filepath.Join(dir, "config")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := (Kubeconfig{ClusterName: "kubelab", Server: "https://127.0.0.1:6443"}).Merge(link); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("symlink replaced by a regular file (err %v)", err)
	}
	if data, _ := os.ReadFile(target); !bytes.Contains(data, []byte("kubelab")) {
		t.Error("symlink target not updated")
	}
}

func assertEntries(t *testing.T, cfg *clientcmdapi.Config, k Kubeconfig, wantUser string) {
	t.Helper()
	ctx := cfg.Contexts[k.ClusterName]
	if ctx == nil || ctx.Cluster != k.ClusterName || ctx.AuthInfo != wantUser || ctx.Namespace != k.Namespace {
		t.Fatalf("context %q = %+v, want cluster %q user %q namespace %q", k.ClusterName, ctx, k.ClusterName, wantUser, k.Namespace)
	}
	cl, user := cfg.Clusters[k.ClusterName], cfg.AuthInfos[wantUser]
	if cl == nil || user == nil {
		t.Fatalf("cluster %q or user %q missing", k.ClusterName, wantUser)
	}
	if cl.Server != k.Server || !bytes.Equal(cl.CertificateAuthorityData, k.CAPEM) {
		t.Errorf("cluster = %+v, want server %s and embedded CA", cl, k.Server)
	}
	if !bytes.Equal(user.ClientCertificateData, k.ClientCertPEM) || !bytes.Equal(user.ClientKeyData, k.ClientKeyPEM) || user.Token != k.Token {
		t.Errorf("user %q = %+v, want embedded credentials of %+v", wantUser, user, k)
	}
}
