package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// NetnsClusterInfo summarizes one network-namespace cluster for listing.
type NetnsClusterInfo struct {
	Name, Dir, Network, Subnet string
	Nodes                      int
	// ControlPlaneRunning and KubeletsRunning say which recorded processes
	// are still alive (a host reboot leaves a cluster with none).
	ControlPlaneRunning bool
	KubeletsRunning     int
}

// ListNetnsClusters lists the clusters whose state directories are in
// base (default ~/.kubelab/clusters), sorted by name.
func ListNetnsClusters(base string) ([]NetnsClusterInfo, error) {
	if base == "" {
		b, err := NetnsClustersDir()
		if err != nil {
			return nil, err
		}
		base = b
	}
	entries, err := os.ReadDir(base)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list clusters in %s: %w", base, err)
	}
	var out []NetnsClusterInfo
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		s, err := loadState(filepath.Join(base, e.Name()))
		if err != nil {
			continue
		}
		info := NetnsClusterInfo{Name: s.Name, Dir: s.Dir, Network: s.Network, Subnet: s.Subnet, Nodes: len(s.Nodes),
			ControlPlaneRunning: s.ControlPlane.alive()}
		for _, n := range s.Nodes {
			if n.Kubelet.alive() {
				info.KubeletsRunning++
			}
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
