package kubelet

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The kubelet-config.yaml of Kubernetes the hard way's worker lab.
const hardWayConfig = `kind: KubeletConfiguration
apiVersion: kubelet.config.k8s.io/v1beta1
address: "0.0.0.0"
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: "/var/lib/kubelet/ca.crt"
authorization:
  mode: Webhook
cgroupDriver: systemd
containerRuntimeEndpoint: "unix:///var/run/containerd/containerd.sock"
clusterDomain: "cluster.local"
clusterDNS:
  - "10.32.0.10"
podCIDR: "10.200.0.0/24"
enableServer: true
resolvConf: "/etc/resolv.conf"
runtimeRequestTimeout: "15m"
tlsCertFile: "/var/lib/kubelet/kubelet.crt"
tlsPrivateKeyFile: "/var/lib/kubelet/kubelet.key"
nodeStatusUpdateFrequency: 4s
maxPods: 50
`

func TestLoadConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubelet-config.yaml")
	if err := os.WriteFile(path, []byte(hardWayConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	var o Options
	if err := LoadConfigFile(path, &o); err != nil {
		t.Fatal(err)
	}
	if o.ClientCAFile != "/var/lib/kubelet/ca.crt" || o.TLSCertFile != "/var/lib/kubelet/kubelet.crt" ||
		o.PodCIDR != "10.200.0.0/24" || len(o.ClusterDNS) != 1 || o.ClusterDNS[0] != "10.32.0.10" ||
		o.MaxPods != 50 || o.NodeStatusUpdateFrequency != 4*time.Second || o.Address != "0.0.0.0" {
		t.Errorf("options = %+v", o)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("kind: KubeletConfiguration\nclusterDNZ: [1.2.3.4]\n"), 0o644)
	if err := LoadConfigFile(bad, &Options{}); err == nil || !strings.Contains(err.Error(), "clusterDNZ") {
		t.Errorf("unknown field: err = %v, want it named", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    Options
		want string
	}{
		{"bad mode", Options{NodeName: "n", NetworkMode: "flannel"}, "--network-mode"},
		{"api without tls", Options{NodeName: "n", Port: 10250}, "--tls-cert-file"},
		{"bad dns", Options{NodeName: "n", ClusterDNS: []string{"ten"}}, "--cluster-dns"},
		{"bad reserved", Options{NodeName: "n", SystemReserved: map[string]string{"cpu": "lots"}}, "reserved cpu"},
		{"relative root", Options{NodeName: "n", RootDir: "var/lib"}, "--root-dir"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Defaults()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to name %s", err, tt.want)
			}
		})
	}
	ok := Options{NodeName: "n"}
	if err := ok.Defaults(); err != nil || ok.RootDir != "/var/lib/kubelet" || ok.CgroupRoot != "kubelab/n" {
		t.Errorf("defaults: %v %+v", err, ok)
	}
}

func TestStatusPatchCarriesUID(t *testing.T) {
	old := corev1.PodStatus{Phase: corev1.PodPending}
	cur := corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.200.0.5"}
	data, err := statusPatch("uid-1", old, cur)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m["metadata"].(map[string]any)["uid"] != "uid-1" || m["status"].(map[string]any)["phase"] != "Running" {
		t.Errorf("patch = %s", data)
	}
}
