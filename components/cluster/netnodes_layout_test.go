package cluster

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNetnsNaming(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cluster              string
		i                    int
		node, ns, veth, brdg string
	}{
		{"lab", 0, "node-0", "kubelab-lab-node-0", "kv-lab-0", "kl-lab"},
		{"kubelab", 0, "kubelab-node-0", "kubelab-kubelab-node-0", "kv-kubelab-0", "kl-kubelab"},
		{"dev", 2, "dev-node-2", "kubelab-dev-node-2", "kv-dev-2", "kl-dev"},
		{"t1234567", 11, "t1234567-node-11", "kubelab-t1234567-node-11", "kv-t1234567-11", "kl-t1234567"},
	}
	for _, tt := range tests {
		if got := netnsNodeName(tt.cluster, tt.i); got != tt.node {
			t.Errorf("netnsNodeName(%q, %d) = %q, want %q", tt.cluster, tt.i, got, tt.node)
		}
		if got := netnsName(tt.cluster, tt.i); got != tt.ns {
			t.Errorf("netnsName(%q, %d) = %q, want %q", tt.cluster, tt.i, got, tt.ns)
		}
		if got := hostVethName(tt.cluster, tt.i); got != tt.veth {
			t.Errorf("hostVethName(%q, %d) = %q, want %q", tt.cluster, tt.i, got, tt.veth)
		}
		if got := bridgeName(tt.cluster); got != tt.brdg {
			t.Errorf("bridgeName(%q) = %q, want %q", tt.cluster, got, tt.brdg)
		}
	}
}

func TestLinkNamesFitIFNAMSIZ(t *testing.T) {
	t.Parallel()
	long := "a-very-long-cluster-name-indeed"
	names := []string{bridgeName(long), hostVethName(long, 49), hostVethName("abcdefghijkl", 49)}
	for _, n := range names {
		if len(n) > 15 {
			t.Errorf("%q is %d bytes, Linux allows 15", n, len(n))
		}
	}
	if bridgeName(long) == bridgeName(long+"x") {
		t.Errorf("two long names hash to the same bridge %q", bridgeName(long))
	}
	if !strings.HasPrefix(bridgeName(long), "kl-") || !strings.HasSuffix(hostVethName(long, 7), "-7") {
		t.Errorf("hashed names lost their prefix or suffix: %q %q", bridgeName(long), hostVethName(long, 7))
	}
}

func TestNetnsNamePatternIsExact(t *testing.T) {
	t.Parallel()
	re := netnsNamePattern("a")
	for name, want := range map[string]bool{
		"kubelab-a-node-0":        true,
		"kubelab-a-node-12":       true,
		"kubelab-a-node-x-node-0": false, // cluster "a-node-x"
		"kubelab-ab-node-0":       false,
		"kubelab-a-node-":         false,
	} {
		if got := re.MatchString(name); got != want {
			t.Errorf("pattern for cluster a matches %q = %v, want %v", name, got, want)
		}
	}
}

func TestSubnetLayout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cidr             string
		nodes            int
		host, node0, n3  string
		wantErrSubstring string
	}{
		{cidr: "10.240.0.0/24", nodes: 3, host: "10.240.0.1", node0: "10.240.0.20", n3: "10.240.0.23"},
		{cidr: "10.240.7.0/24", nodes: 50, host: "10.240.7.1", node0: "10.240.7.20", n3: "10.240.7.23"},
		{cidr: "10.240.0.5/24", nodes: 1, host: "10.240.0.1", node0: "10.240.0.20", n3: "10.240.0.23"},
		{cidr: "10.240.0.0/28", nodes: 1, wantErrSubstring: "too small"},
		{cidr: "fd00::/64", nodes: 1, wantErrSubstring: "IPv4"},
		{cidr: "nonsense", nodes: 1, wantErrSubstring: "nonsense"},
	}
	for _, tt := range tests {
		l, err := parseSubnet(tt.cidr, tt.nodes)
		if tt.wantErrSubstring != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErrSubstring) {
				t.Errorf("parseSubnet(%q) error = %v, want one mentioning %q", tt.cidr, err, tt.wantErrSubstring)
			}
			continue
		}
		if err != nil {
			t.Fatalf("parseSubnet(%q): %v", tt.cidr, err)
		}
		if got := l.hostIP().String(); got != tt.host {
			t.Errorf("%s host = %s, want %s", tt.cidr, got, tt.host)
		}
		if got := l.nodeIP(0).String(); got != tt.node0 {
			t.Errorf("%s node 0 = %s, want %s", tt.cidr, got, tt.node0)
		}
		if got := l.nodeIP(3).String(); got != tt.n3 {
			t.Errorf("%s node 3 = %s, want %s", tt.cidr, got, tt.n3)
		}
		if got := l.cidr(l.nodeIP(0)).String(); got != tt.node0+"/24" {
			t.Errorf("%s node 0 cidr = %s", tt.cidr, got)
		}
	}
}

func TestValidateClusterName(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{"kubelab": true, "t123": true, "dev-2": true, "Dev": false, "a_b": false, "": false,
		strings.Repeat("a", 41): false} {
		if err := validateClusterName(name); (err == nil) != ok {
			t.Errorf("validateClusterName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	want := &netnsState{Name: "t1", Dir: dir, Network: "vxlan", Subnet: "10.240.3.0/24", Bridge: "kl-t1", HostIP: "10.240.3.1",
		Kubeconfig: "/root/.kube/config", ControlPlane: procID{PID: 42, StartTime: 1234},
		Nodes: []nodeState{
			{Name: "t1-node-0", IP: "10.240.3.20", Netns: "kubelab-t1-node-0", HostVeth: "kv-t1-0", Kubelet: procID{PID: 43, StartTime: 1300}},
			{Name: "t1-node-1", IP: "10.240.3.21", Netns: "kubelab-t1-node-1", HostVeth: "kv-t1-1"},
		},
		CgroupParents: []string{"/", "/process_api/x"}, Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := want.save(); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if _, err := loadState(filepath.Join(dir, "missing")); err == nil {
		t.Error("loadState of a missing directory: no error")
	}
}

func TestKubeletArgs(t *testing.T) {
	t.Parallel()
	n := nodeState{Name: "dev-node-1", IP: "10.240.0.21", Netns: "kubelab-dev-node-1"}
	args := strings.Join(kubeletArgs("/s", "dev", "vxlan", n), " ")
	for _, want := range []string{
		"--kubeconfig /s/nodes/dev-node-1/kubeconfig", "--hostname-override dev-node-1", "--node-ip 10.240.0.21",
		"--root-dir /s/nodes/dev-node-1/root", "--pod-logs-dir /s/nodes/dev-node-1/logs",
		"--cgroup-root kubelab/dev/dev-node-1", "--network-mode vxlan", "--client-ca-file /s/controlplane/pki/ca.crt",
		"--cluster-dns 10.32.0.10", "--port 10250",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("kubelet args %q lack %q", args, want)
		}
	}
	if env := kubeletEnv(n); len(env) != 1 || env[0] != "KUBELAB_NETNS=/var/run/netns/kubelab-dev-node-1" {
		t.Errorf("kubelet env = %v", env)
	}
}
