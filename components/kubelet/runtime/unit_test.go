package runtime

import (
	"slices"
	"testing"
)

func TestParseID(t *testing.T) {
	tests := []struct {
		id        string
		pod, name string
		attempt   int
		wantErr   bool
	}{
		{id: "1234-abcd_web_0", pod: "1234-abcd", name: "web", attempt: 0},
		{id: "u_i_d_app_12", pod: "u_i_d", name: "app", attempt: 12},
		{id: "pod_web", wantErr: true},
		{id: "pod_web_x", wantErr: true},
		{id: "_web_1", wantErr: true},
		{id: "", wantErr: true},
	}
	for _, tt := range tests {
		pod, name, attempt, err := parseID(tt.id)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseID(%q) error = %v, want error %v", tt.id, err, tt.wantErr)
			continue
		}
		if err == nil && (pod != tt.pod || name != tt.name || attempt != tt.attempt) {
			t.Errorf("parseID(%q) = %q %q %d", tt.id, pod, name, attempt)
		}
		if err == nil && containerID(pod, name, attempt) != tt.id {
			t.Errorf("containerID round trip of %q", tt.id)
		}
	}
}

func TestCapabilities(t *testing.T) {
	tests := []struct {
		name      string
		cfg       ContainerConfig
		has, lack []string
		wantErr   bool
	}{
		{name: "default", has: []string{"CAP_CHOWN", "CAP_NET_RAW"}, lack: []string{"CAP_NET_ADMIN", "CAP_SYS_ADMIN"}},
		{name: "add", cfg: ContainerConfig{CapAdd: []string{"NET_ADMIN"}}, has: []string{"CAP_NET_ADMIN", "CAP_KILL"}},
		{name: "drop all add one", cfg: ContainerConfig{CapDrop: []string{"ALL"}, CapAdd: []string{"cap_kill"}}, has: []string{"CAP_KILL"}, lack: []string{"CAP_CHOWN"}},
		{name: "drop one", cfg: ContainerConfig{CapDrop: []string{"NET_RAW"}}, lack: []string{"CAP_NET_RAW"}},
		{name: "privileged", cfg: ContainerConfig{Privileged: true}, has: []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}},
		{name: "unknown", cfg: ContainerConfig{CapAdd: []string{"FLY"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caps, err := capabilities(&tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			for _, c := range tt.has {
				if !slices.Contains(caps, c) {
					t.Errorf("missing %s in %v", c, caps)
				}
			}
			for _, c := range tt.lack {
				if slices.Contains(caps, c) {
					t.Errorf("unexpected %s in %v", c, caps)
				}
			}
		})
	}
}

func TestCgroupResources(t *testing.T) {
	tests := []struct {
		in         Resources
		wantPeriod uint64
		wantPids   bool
	}{
		{in: Resources{}, wantPeriod: 0},
		{in: Resources{CPUQuota: 20000}, wantPeriod: 100000},
		{in: Resources{CPUQuota: 5000, CPUPeriod: 10000, PidsLimit: 10}, wantPeriod: 10000, wantPids: true},
	}
	for _, tt := range tests {
		got := cgroupResources(tt.in)
		if got.CpuPeriod != tt.wantPeriod || (got.PidsLimit != nil) != tt.wantPids || !got.SkipDevices {
			t.Errorf("cgroupResources(%+v) = %+v", tt.in, got)
		}
	}
}
