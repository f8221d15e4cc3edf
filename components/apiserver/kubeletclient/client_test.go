package kubeletclient

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestNodeURL(t *testing.T) {
	addrs := []corev1.NodeAddress{
		{Type: corev1.NodeHostName, Address: "node-1"},
		{Type: corev1.NodeExternalIP, Address: "203.0.113.7"},
		{Type: corev1.NodeInternalIP, Address: "10.240.0.21"},
	}
	tests := []struct {
		name    string
		types   []string
		addrs   []corev1.NodeAddress
		port    int32
		want    string
		wantErr string
	}{
		{name: "default order prefers InternalIP", addrs: addrs, want: "https://10.240.0.21:10250"},
		{name: "port from daemonEndpoints", addrs: addrs, port: 11250, want: "https://10.240.0.21:11250"},
		{name: "Hostname first", types: []string{"Hostname", "InternalIP"}, addrs: addrs, want: "https://node-1:10250"},
		{name: "IPv6", addrs: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "fd00::21"}}, want: "https://[fd00::21]:10250"},
		{name: "no usable address", types: []string{"ExternalDNS"}, addrs: addrs, wantErr: `node "n" has no address of the preferred types [ExternalDNS]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			types, err := ParseAddressTypes(tt.types)
			if err != nil {
				t.Fatal(err)
			}
			c, err := New(Config{PreferredAddressTypes: types})
			if err != nil {
				t.Fatal(err)
			}
			node := &corev1.Node{}
			node.Name = "n"
			node.Status.Addresses = tt.addrs
			node.Status.DaemonEndpoints.KubeletEndpoint.Port = tt.port
			u, err := c.NodeURL(node)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || u.String() != tt.want {
				t.Fatalf("NodeURL = %v, %v; want %s", u, err, tt.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := ParseAddressTypes([]string{"InternalIP", "LegacyHostIP"}); err == nil {
		t.Error("ParseAddressTypes accepted LegacyHostIP")
	}
	if _, err := New(Config{CertFile: "only-cert.pem"}); err == nil {
		t.Error("New accepted a certificate without a key")
	}
	if _, err := New(Config{CAFile: "/nonexistent/ca.pem"}); err == nil {
		t.Error("New accepted a missing CA file")
	}
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Transport(false).TLSClientConfig.InsecureSkipVerify {
		t.Error("without --kubelet-certificate-authority the kubelet's certificate should not be verified (upstream's default)")
	}
}
