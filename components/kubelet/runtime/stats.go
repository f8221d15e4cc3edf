package runtime

import (
	"fmt"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
)

// Stats are a running container's resource usage, from its cgroup.
type Stats struct {
	Timestamp     time.Time
	CPUUsageNanos uint64 // cumulative CPU time
	// MemoryWorkingSetBytes is usage minus inactive file cache: what the
	// kubelet and metrics-server report and evict on.
	MemoryWorkingSetBytes uint64
	MemoryUsageBytes      uint64
	MemoryLimitBytes      uint64
	Pids                  uint64
}

// Stats reads a running container's cgroup statistics.
func (r *Runtime) Stats(id string) (Stats, error) {
	c, err := libcontainer.Load(r.lcRoot, id)
	if err != nil {
		return Stats{}, fmt.Errorf("stats of %s: %w", id, err)
	}
	s, err := c.Stats()
	if err != nil {
		return Stats{}, fmt.Errorf("stats of %s: %w", id, err)
	}
	return statsFrom(s.CgroupStats), nil
}

func statsFrom(cs *cgroups.Stats) Stats {
	out := Stats{Timestamp: time.Now()}
	if cs == nil {
		return out
	}
	out.CPUUsageNanos = cs.CpuStats.CpuUsage.TotalUsage
	m := cs.MemoryStats
	out.MemoryUsageBytes, out.MemoryLimitBytes = m.Usage.Usage, m.Usage.Limit
	// v1 names the hierarchical counter total_inactive_file; v2 has only
	// inactive_file.
	inactive, ok := m.Stats["total_inactive_file"]
	if !ok {
		inactive = m.Stats["inactive_file"]
	}
	if inactive < out.MemoryUsageBytes {
		out.MemoryWorkingSetBytes = out.MemoryUsageBytes - inactive
	}
	out.Pids = cs.PidsStats.Current
	return out
}
