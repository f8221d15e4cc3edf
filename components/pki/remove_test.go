package pki

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func TestRemoveContext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		remove       string
		wantContexts []string
		wantClusters []string
		wantUsers    []string
		wantCurrent  string
	}{
		{
			name: "current context with its own cluster and user", remove: "a",
			wantContexts: []string{"b", "c"}, wantClusters: []string{"shared"}, wantUsers: []string{"b", "c"}, wantCurrent: "",
		},
		{
			name: "cluster still used by another context is kept", remove: "b",
			wantContexts: []string{"a", "c"}, wantClusters: []string{"a", "shared"}, wantUsers: []string{"a", "c"}, wantCurrent: "a",
		},
		{
			name: "unknown name changes nothing", remove: "nope",
			wantContexts: []string{"a", "b", "c"}, wantClusters: []string{"a", "shared"}, wantUsers: []string{"a", "b", "c"}, wantCurrent: "a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "config")
			cfg := clientcmdapi.NewConfig()
			cfg.Clusters["a"] = &clientcmdapi.Cluster{Server: "https://a"}
			cfg.Clusters["shared"] = &clientcmdapi.Cluster{Server: "https://shared"}
			for _, u := range []string{"a", "b", "c"} {
				cfg.AuthInfos[u] = &clientcmdapi.AuthInfo{Token: u}
			}
			cfg.Contexts["a"] = &clientcmdapi.Context{Cluster: "a", AuthInfo: "a"}
			cfg.Contexts["b"] = &clientcmdapi.Context{Cluster: "shared", AuthInfo: "b"}
			cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "shared", AuthInfo: "c"}
			cfg.CurrentContext = "a"
			if err := clientcmd.WriteToFile(*cfg, path); err != nil {
				t.Fatal(err)
			}

			if err := RemoveContext(path, tt.remove); err != nil {
				t.Fatal(err)
			}
			got, err := clientcmd.LoadFromFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if k := sortedKeys(got.Contexts); !slices.Equal(k, tt.wantContexts) {
				t.Errorf("contexts = %v, want %v", k, tt.wantContexts)
			}
			if k := sortedKeys(got.Clusters); !slices.Equal(k, tt.wantClusters) {
				t.Errorf("clusters = %v, want %v", k, tt.wantClusters)
			}
			if k := sortedKeys(got.AuthInfos); !slices.Equal(k, tt.wantUsers) {
				t.Errorf("users = %v, want %v", k, tt.wantUsers)
			}
			if got.CurrentContext != tt.wantCurrent {
				t.Errorf("current-context = %q, want %q", got.CurrentContext, tt.wantCurrent)
			}
		})
	}
}

func TestRemoveContextMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config")
	if err := RemoveContext(path, "kubelab"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("RemoveContext created a file")
	}
}

func TestMergeThenRemoveLeavesOthers(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config")
	for _, name := range []string{"one", "two"} {
		if err := (Kubeconfig{ClusterName: name, Server: "https://" + name}).Merge(path); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveContext(path, "two"); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for what, keys := range map[string][]string{"contexts": sortedKeys(cfg.Contexts), "clusters": sortedKeys(cfg.Clusters), "users": sortedKeys(cfg.AuthInfos)} {
		if !slices.Equal(keys, []string{"one"}) {
			t.Errorf("%s = %v, want [one]", what, keys)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
