package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClusterHelpTeaches(t *testing.T) {
	t.Parallel()
	out, err := run(t, context.Background(), "cluster", "create", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--nodes", "--network", "network namespace", "10.240.0.1", "system:node:", "kubelab cluster delete"} {
		if !strings.Contains(out, want) {
			t.Errorf("cluster create --help does not mention %q", want)
		}
	}
}

func TestClusterCreateRejectsBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--name", "Bad_Name"}, "cluster name"},
		{[]string{"--network", "flannel"}, "routes or vxlan"},
		{[]string{"--nodes", "500"}, "want 1 to"},
	}
	for _, tt := range tests {
		args := append([]string{"cluster", "create", "--dir", t.TempDir()}, tt.args...)
		_, err := run(t, context.Background(), args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one mentioning %q", tt.args, err, tt.want)
		}
	}
}

func TestClusterList(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	out, err := run(t, context.Background(), "cluster", "list", "--dir", base)
	if err != nil || !strings.Contains(out, "No clusters") {
		t.Fatalf("empty list: %q, %v", out, err)
	}
	dir := filepath.Join(base, "demo")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	state := `{"name":"demo","dir":"` + dir + `","network":"vxlan","subnet":"10.240.9.0/24",
	  "controlPlane":{"pid":999999999},"nodes":[{"name":"demo-node-0"},{"name":"demo-node-1"}]}`
	if err := os.WriteFile(filepath.Join(dir, "cluster.json"), []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, context.Background(), "cluster", "list", "--dir", base)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"demo", "vxlan", "10.240.9.0/24", "stopped", "0/2"} {
		if !strings.Contains(out, want) {
			t.Errorf("cluster list output %q lacks %q", out, want)
		}
	}
}
