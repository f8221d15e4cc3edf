package kubelet

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/kubelab/kubelab/components/kubelet/network"
	"github.com/kubelab/kubelab/components/kubelet/runtime"
)

// A kubelet leaves its pods running when it stops (the next kubelet adopts
// them), so removing a node for good is a separate step: TearDownNode.
// `kubelab down` calls it for the node `kubelab up` runs.

// networkConfigFile records the pod network's settings under the root dir,
// so the network can be torn down without the API server.
const networkConfigFile = "network/config.json"

type savedNetwork struct {
	Bridge   string   `json:"bridge"`
	PodCIDRs []string `json:"podCIDRs"`
	Mode     string   `json:"mode"`
	NodeIP   string   `json:"nodeIP"`
	MTU      int      `json:"mtu"`
}

func (k *Kubelet) saveNetwork(cidrs []string) error {
	path := filepath.Join(k.o.RootDir, networkConfigFile)
	data, err := json.MarshalIndent(savedNetwork{Bridge: k.o.BridgeName, PodCIDRs: cidrs, Mode: k.o.NetworkMode, NodeIP: k.nodeIP.String(), MTU: k.o.MTU}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save network settings: %w", err)
	}
	return os.WriteFile(path, data, 0o644)
}

// TearDownNode stops every pod container a kubelet with this root dir and
// cgroup root left running, releases their namespaces, mounts and cgroups,
// and removes the pod network (bridge, routes, VXLAN device) from the
// current network namespace. The API server is not needed. Run it with no
// kubelet running on rootDir.
func TearDownNode(rootDir, cgroupRoot string) error {
	var errs []error
	rtRoot := filepath.Join(rootDir, "runtime")
	if _, err := os.Stat(rtRoot); err == nil {
		rt, err := runtime.New(runtime.Options{Root: rtRoot, CgroupParent: cgroupRoot})
		if err != nil {
			return fmt.Errorf("open the runtime state in %s: %w", rtRoot, err)
		}
		sbs, err := rt.ListSandboxes()
		errs = append(errs, err)
		for _, sb := range sbs {
			if err := rt.RemoveSandbox(sb.PodUID); err != nil {
				errs = append(errs, fmt.Errorf("remove pod %s/%s: %w", sb.Namespace, sb.Name, err))
			}
		}
		_ = rt.Close()
	}
	data, err := os.ReadFile(filepath.Join(rootDir, networkConfigFile))
	if err == nil {
		var s savedNetwork
		if err := json.Unmarshal(data, &s); err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", networkConfigFile, err))
		} else {
			m, err := network.New(network.Config{BridgeName: s.Bridge, PodCIDRs: s.PodCIDRs, Mode: s.Mode,
				NodeIP: net.ParseIP(s.NodeIP), MTU: s.MTU, StateDir: filepath.Join(rootDir, "network")})
			if err == nil {
				err = m.Teardown()
				_ = m.Close()
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("remove the pod network (bridge %s): %w", s.Bridge, err))
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
