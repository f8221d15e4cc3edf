package kubelet

import (
	"fmt"
	"os"

	kubeletconfig "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"
)

// LoadConfigFile reads a KubeletConfiguration (kubelet.config.k8s.io/v1beta1,
// the file the hard way's `kubelet --config` points at) into o. Flags given
// on the command line are applied after it, so they win, like upstream.
func LoadConfigFile(path string, o *Options) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read kubelet config %s: %w", path, err)
	}
	var c kubeletconfig.KubeletConfiguration
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return fmt.Errorf("parse kubelet config %s: %w", path, err)
	}
	if c.Kind != "" && c.Kind != "KubeletConfiguration" {
		return fmt.Errorf("kubelet config %s: kind is %q, want KubeletConfiguration", path, c.Kind)
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&o.Address, c.Address)
	if c.Port != 0 {
		o.Port = int(c.Port)
	}
	set(&o.TLSCertFile, c.TLSCertFile)
	set(&o.TLSPrivateKeyFile, c.TLSPrivateKeyFile)
	set(&o.ClientCAFile, c.Authentication.X509.ClientCAFile)
	set(&o.ClusterDomain, c.ClusterDomain)
	if len(c.ClusterDNS) > 0 {
		o.ClusterDNS = c.ClusterDNS
	}
	set(&o.PodCIDR, c.PodCIDR)
	set(&o.CgroupRoot, c.CgroupRoot)
	if c.MaxPods != 0 {
		o.MaxPods = int(c.MaxPods)
	}
	if len(c.SystemReserved) > 0 {
		o.SystemReserved = c.SystemReserved
	}
	if len(c.KubeReserved) > 0 {
		o.KubeReserved = c.KubeReserved
	}
	if len(c.RegisterWithTaints) > 0 {
		o.RegisterWithTaints = c.RegisterWithTaints
	}
	if c.NodeStatusUpdateFrequency.Duration != 0 {
		o.NodeStatusUpdateFrequency = c.NodeStatusUpdateFrequency.Duration
	}
	if c.NodeStatusReportFrequency.Duration != 0 {
		o.NodeStatusReportFrequency = c.NodeStatusReportFrequency.Duration
	}
	if c.NodeLeaseDurationSeconds != 0 {
		o.NodeLeaseDurationSeconds = c.NodeLeaseDurationSeconds
	}
	if c.SyncFrequency.Duration != 0 {
		o.SyncFrequency = c.SyncFrequency.Duration
	}
	if c.ImageGCHighThresholdPercent != nil {
		o.ImageGCHighThresholdPercent = int(*c.ImageGCHighThresholdPercent)
	}
	if c.ImageGCLowThresholdPercent != nil {
		o.ImageGCLowThresholdPercent = int(*c.ImageGCLowThresholdPercent)
	}
	set(&o.PodLogsDir, c.PodLogsDir)
	if c.KubeAPIQPS != nil {
		o.KubeAPIQPS = int(*c.KubeAPIQPS)
	}
	if c.KubeAPIBurst != 0 {
		o.KubeAPIBurst = int(c.KubeAPIBurst)
	}
	return nil
}
