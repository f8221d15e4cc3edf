package kubelet

import (
	"net"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestResolvConf(t *testing.T) {
	host := "nameserver 192.0.2.53\nsearch example.org\noptions edns0\n"
	pod := func(policy corev1.DNSPolicy, hostNet bool, cfg *corev1.PodDNSConfig) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop"},
			Spec: corev1.PodSpec{DNSPolicy: policy, HostNetwork: hostNet, DNSConfig: cfg}}
	}
	for _, tt := range []struct {
		name string
		pod  *corev1.Pod
		dns  []string
		want string
	}{
		{"cluster first", pod("", false, nil), []string{"10.32.0.10"},
			"search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.32.0.10\noptions ndots:5\n"},
		{"no cluster dns falls back to the node's", pod(corev1.DNSClusterFirst, false, nil), nil,
			"search example.org\nnameserver 192.0.2.53\noptions edns0\n"},
		{"default", pod(corev1.DNSDefault, false, nil), []string{"10.32.0.10"},
			"search example.org\nnameserver 192.0.2.53\noptions edns0\n"},
		{"host network uses the node's", pod(corev1.DNSClusterFirst, true, nil), []string{"10.32.0.10"},
			"search example.org\nnameserver 192.0.2.53\noptions edns0\n"},
		{"host network opting in", pod(corev1.DNSClusterFirstWithHostNet, true, nil), []string{"10.32.0.10"},
			"search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.32.0.10\noptions ndots:5\n"},
		{"none with dnsConfig, ndots replaced", pod(corev1.DNSNone, false, &corev1.PodDNSConfig{
			Nameservers: []string{"1.2.3.4"}, Searches: []string{"a.b"},
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "rotate"}}}), []string{"10.32.0.10"},
			"search a.b\nnameserver 1.2.3.4\noptions ndots:2 rotate\n"},
		{"cluster first plus dnsConfig", pod("", false, &corev1.PodDNSConfig{
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("1")}}}), []string{"10.32.0.10"},
			"search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.32.0.10\noptions ndots:1\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := resolvConf(tt.pod, tt.dns, "cluster.local", host); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestHostsFile(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop"},
		Spec: corev1.PodSpec{Hostname: "web-0", Subdomain: "web",
			HostAliases: []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo.local", "bar.local"}}}}}
	got := hostsFile(pod, []net.IP{net.ParseIP("10.200.1.5")}, "cluster.local")
	for _, want := range []string{
		"127.0.0.1\tlocalhost\n",
		"10.200.1.5\tweb-0.web.shop.svc.cluster.local\tweb-0\n",
		"10.1.2.3\tfoo.local\tbar.local\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts file lacks %q:\n%s", want, got)
		}
	}
}

func TestPodHostname(t *testing.T) {
	long := strings.Repeat("a", 70)
	for _, tt := range []struct{ name, hostname, want string }{
		{"web", "", "web"},
		{"web", "db", "db"},
		{long, "", strings.Repeat("a", 63)},
	} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tt.name}, Spec: corev1.PodSpec{Hostname: tt.hostname}}
		if got := podHostname(pod); got != tt.want {
			t.Errorf("podHostname(%q, %q) = %q, want %q", tt.name, tt.hostname, got, tt.want)
		}
	}
}
