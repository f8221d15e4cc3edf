package kubelet

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Files the kubelet writes for every pod and bind-mounts into each of its
// containers: /etc/hosts (the pod's own name and IPs, plus hostAliases),
// /etc/resolv.conf (the cluster DNS and search path) and /etc/hostname.
// Containers see the kubelet's view of the pod, whatever image they run.

// podHostname is the hostname the pod's UTS namespace gets: spec.hostname
// or the pod name, cut to a DNS label.
func podHostname(pod *corev1.Pod) string {
	h := pod.Spec.Hostname
	if h == "" {
		h = pod.Name
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// hostsFile renders /etc/hosts like the kubelet's managed hosts file.
func hostsFile(pod *corev1.Pod, ips []net.IP, clusterDomain string) string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	host := podHostname(pod)
	names := host
	if pod.Spec.Subdomain != "" {
		names = fmt.Sprintf("%s.%s.%s.svc.%s\t%s", host, pod.Spec.Subdomain, pod.Namespace, clusterDomain, host)
	}
	for _, ip := range ips {
		fmt.Fprintf(&b, "%s\t%s\n", ip, names)
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return b.String()
}

// resolvConf renders /etc/resolv.conf for the pod's dnsPolicy: ClusterFirst
// points at the cluster DNS with the namespace's search path; Default uses
// the node's resolver; None uses only dnsConfig. hostResolv is the node's
// /etc/resolv.conf.
func resolvConf(pod *corev1.Pod, clusterDNS []string, clusterDomain, hostResolv string) string {
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = corev1.DNSClusterFirst
	}
	if pod.Spec.HostNetwork && policy == corev1.DNSClusterFirst {
		policy = corev1.DNSDefault // upstream: ClusterFirst on the host network falls back
	}
	if policy == corev1.DNSClusterFirstWithHostNet {
		policy = corev1.DNSClusterFirst
	}
	if policy == corev1.DNSClusterFirst && len(clusterDNS) == 0 {
		policy = corev1.DNSDefault // no --cluster-dns: like the kubelet, use the node's
	}
	var servers, search, options []string
	switch policy {
	case corev1.DNSClusterFirst:
		servers = append(servers, clusterDNS...)
		search = []string{pod.Namespace + ".svc." + clusterDomain, "svc." + clusterDomain, clusterDomain}
		options = []string{"ndots:5"}
	case corev1.DNSDefault:
		for _, line := range strings.Split(hostResolv, "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			switch f[0] {
			case "nameserver":
				servers = append(servers, f[1])
			case "search":
				search = append(search, f[1:]...)
			case "options":
				options = append(options, f[1:]...)
			}
		}
	}
	if c := pod.Spec.DNSConfig; c != nil {
		servers = append(servers, c.Nameservers...)
		search = append(search, c.Searches...)
		for _, o := range c.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			options = mergeOption(options, opt)
		}
	}
	var b strings.Builder
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.String()
}

// mergeOption replaces an option of the same name (ndots:5 → ndots:2).
func mergeOption(opts []string, opt string) []string {
	name, _, _ := strings.Cut(opt, ":")
	for i, o := range opts {
		if n, _, _ := strings.Cut(o, ":"); n == name {
			opts[i] = opt
			return opts
		}
	}
	return append(opts, opt)
}

// writePodFiles writes etc-hosts, resolv.conf and hostname into dir.
func writePodFiles(dir string, pod *corev1.Pod, ips []net.IP, o *Options) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create pod directory %s: %w", dir, err)
	}
	hosts := hostsFile(pod, ips, o.ClusterDomain)
	if pod.Spec.HostNetwork {
		hosts = readFile("/etc/hosts")
	}
	files := map[string]string{
		"etc-hosts":   hosts,
		"resolv.conf": resolvConf(pod, o.ClusterDNS, o.ClusterDomain, readFile("/etc/resolv.conf")),
		"hostname":    podHostname(pod) + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s for pod %s/%s: %w", name, pod.Namespace, pod.Name, err)
		}
	}
	return nil
}
