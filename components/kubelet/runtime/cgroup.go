package runtime

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// podCgroupPath is the pod's cgroup, relative (or absolute) like the
// CgroupParent it is under.
func (r *Runtime) podCgroupPath(podUID string) string {
	return filepath.Join(r.cgroupParent, "pod"+podUID)
}

// cgroupResources converts Resources for the cgroups library, which also
// translates them for cgroup v2 (shares → weight, quota → cpu.max).
func cgroupResources(res Resources) *cgroups.Resources {
	out := &cgroups.Resources{
		CpuShares: res.CPUShares,
		CpuQuota:  res.CPUQuota,
		CpuPeriod: res.CPUPeriod,
		Memory:    res.MemoryLimit,
		// A pod cgroup has no processes and no device rules of its own: an
		// empty rule list would deny every device to all its containers.
		SkipDevices: true,
	}
	if res.CPUQuota > 0 && res.CPUPeriod == 0 {
		out.CpuPeriod = 100000
	}
	if res.PidsLimit > 0 {
		p := res.PidsLimit
		out.PidsLimit = &p
	}
	return out
}

// specResources converts Resources for a container's OCI spec.
func specResources(res Resources) *specs.LinuxResources {
	out := &specs.LinuxResources{
		// Deny all devices; specconv appends the default allowed ones.
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}
	if res.CPUShares > 0 || res.CPUQuota > 0 {
		out.CPU = &specs.LinuxCPU{}
		if res.CPUShares > 0 {
			s := res.CPUShares
			out.CPU.Shares = &s
		}
		if res.CPUQuota > 0 {
			q, p := res.CPUQuota, res.CPUPeriod
			if p == 0 {
				p = 100000
			}
			out.CPU.Quota, out.CPU.Period = &q, &p
		}
	}
	if res.MemoryLimit > 0 {
		m := res.MemoryLimit
		out.Memory = &specs.LinuxMemory{Limit: &m}
	}
	if res.PidsLimit > 0 {
		p := res.PidsLimit
		out.Pids = &specs.LinuxPids{Limit: &p}
	}
	return out
}

// createPodCgroup creates the pod cgroup (with no process in it) and applies
// its limits; it returns the per-controller absolute paths.
func (r *Runtime) createPodCgroup(podUID string, res Resources) (map[string]string, error) {
	cg := &cgroups.Cgroup{Path: r.podCgroupPath(podUID), Resources: cgroupResources(res)}
	m, err := manager.New(cg)
	if err != nil {
		return nil, fmt.Errorf("pod %s cgroup: %w", podUID, err)
	}
	if err := m.Apply(-1); err != nil {
		_ = m.Destroy()
		return nil, fmt.Errorf("pod %s cgroup: create: %w", podUID, err)
	}
	if err := m.Set(cg.Resources); err != nil {
		_ = m.Destroy()
		return nil, fmt.Errorf("pod %s cgroup: set limits: %w", podUID, err)
	}
	return m.GetPaths(), nil
}

// removePodCgroup removes the pod cgroup and anything left under it.
func removePodCgroup(paths map[string]string) error {
	if len(paths) == 0 {
		return nil
	}
	m, err := manager.NewWithPaths(&cgroups.Cgroup{Resources: &cgroups.Resources{}}, paths)
	if err != nil {
		return fmt.Errorf("pod cgroup: %w", err)
	}
	if err := m.Destroy(); err != nil {
		return fmt.Errorf("remove pod cgroup: %w", err)
	}
	return nil
}

// oomKills reads the kernel's count of OOM kills in a container's memory
// cgroup: "oom_kill N" in memory.oom_control (v1) or memory.events (v2).
// paths are libcontainer's cgroup paths ("memory" on v1, "" on v2).
func oomKills(paths map[string]string) uint64 {
	file := ""
	if p, ok := paths["memory"]; ok && !cgroups.IsCgroup2UnifiedMode() {
		file = filepath.Join(p, "memory.oom_control")
	} else if p, ok := paths[""]; ok {
		file = filepath.Join(p, "memory.events")
	}
	if file == "" {
		return 0
	}
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), " ")
		if ok && k == "oom_kill" {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}
