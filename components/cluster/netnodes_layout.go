package cluster

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Names and addresses of a network-namespace cluster. They are all derived
// from the cluster name, so `cluster delete` can find what a crashed
// `cluster create` left behind even without its state file.
const (
	// DefaultNetnsClusterName is the cluster (and kubeconfig context) name
	// when none is given; its nodes are plain node-0, node-1, ... like the
	// hard way's workers.
	DefaultNetnsClusterName = "lab"
	// DefaultNodeSubnet is the node network (KTHW's 10.240.0.0/24): the
	// host's bridge gets .1, node i gets .(20+i).
	DefaultNodeSubnet = "10.240.0.0/24"
	// firstNodeHost is the host part of node-0's address.
	firstNodeHost = 20
	// maxNetnsNodes keeps a laptop from being asked for 200 kubelets.
	maxNetnsNodes = 50
	// stateFileName is the record of what create made, for delete.
	stateFileName = "cluster.json"
)

// netnsState is what a create made, written after every step so that a
// delete can undo a partial create. It lives in <dir>/cluster.json.
type netnsState struct {
	Name    string `json:"name"`
	Dir     string `json:"dir"`
	Network string `json:"network"`
	Subnet  string `json:"subnet"`
	Bridge  string `json:"bridge"`
	HostIP  string `json:"hostIP"`
	// Kubeconfig is the user kubeconfig the admin context was merged into
	// ("" = none), so delete removes the context from the same file.
	Kubeconfig   string      `json:"kubeconfig,omitempty"`
	ControlPlane procID      `json:"controlPlane"`
	Nodes        []nodeState `json:"nodes"`
	// CgroupParents are the cgroup paths (one per hierarchy) of the process
	// that started the kubelets: the kubelets inherit them, and their
	// relative --cgroup-root nests below them.
	CgroupParents []string  `json:"cgroupParents,omitempty"`
	Created       time.Time `json:"created"`
}

// nodeState is one network-namespace node.
type nodeState struct {
	Name     string `json:"name"`
	IP       string `json:"ip"`
	Netns    string `json:"netns"`
	HostVeth string `json:"hostVeth"`
	Kubelet  procID `json:"kubelet"`
}

// procID names a process across pid reuse: the pid and its start time in
// clock ticks since boot (/proc/<pid>/stat field 22).
type procID struct {
	PID       int    `json:"pid,omitempty"`
	StartTime uint64 `json:"startTime,omitempty"`
}

// validateClusterName accepts DNS-1123 labels short enough that
// "<name>-node-<i>" stays a valid node name.
func validateClusterName(name string) error {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fmt.Errorf("cluster name %q: %s", name, errs[0])
	}
	if len(name) > 40 {
		return fmt.Errorf("cluster name %q: at most 40 characters", name)
	}
	return nil
}

// netnsNodeName is node i's Node name: node-<i> in the default cluster,
// <cluster>-node-<i> otherwise (so two clusters' nodes never share a name
// in one kubeconfig's worth of output).
func netnsNodeName(cluster string, i int) string {
	if cluster == DefaultNetnsClusterName {
		return fmt.Sprintf("node-%d", i)
	}
	return fmt.Sprintf("%s-node-%d", cluster, i)
}

// netnsName is node i's network namespace, pinned at /var/run/netns/<it>.
func netnsName(cluster string, i int) string {
	return fmt.Sprintf("kubelab-%s-node-%d", cluster, i)
}

// netnsNamePattern matches every node namespace of a cluster, and only
// its: "kubelab-a-node-*" would also match cluster "a-node-x"'s namespaces.
func netnsNamePattern(cluster string) *regexp.Regexp {
	return regexp.MustCompile(`^kubelab-` + regexp.QuoteMeta(cluster) + `-node-[0-9]+$`)
}

// bridgeName is the host bridge of the node network: kl-<cluster>.
func bridgeName(cluster string) string { return linkName("kl-", cluster, "") }

// hostVethName is the host end of node i's veth (the node end is eth0).
func hostVethName(cluster string, i int) string {
	return linkName("kv-", cluster, fmt.Sprintf("-%d", i))
}

// linkName builds an interface name, which Linux caps at 15 bytes
// (IFNAMSIZ-1); a long cluster name is replaced by a hash of it.
func linkName(prefix, cluster, suffix string) string {
	if s := prefix + cluster + suffix; len(s) <= 15 {
		return s
	}
	h := fnv.New32a()
	h.Write([]byte(cluster))
	return fmt.Sprintf("%s%08x%s", prefix, h.Sum32(), suffix)
}

// cgroupRoot is the relative cgroup all of a cluster's pods nest under;
// node n's kubelet gets --cgroup-root <cgroupRoot>/<n>.
func cgroupRoot(cluster string) string { return "kubelab/" + cluster }

// subnetLayout parses the node network and says where the host and the
// nodes sit in it.
type subnetLayout struct {
	subnet *net.IPNet
}

func parseSubnet(cidr string, nodes int) (subnetLayout, error) {
	ip, subnet, err := net.ParseCIDR(cidr)
	if err != nil {
		return subnetLayout{}, fmt.Errorf("node subnet %q: %w", cidr, err)
	}
	if ip.To4() == nil {
		return subnetLayout{}, fmt.Errorf("node subnet %q: must be IPv4", cidr)
	}
	ones, bits := subnet.Mask.Size()
	if hosts := 1<<(bits-ones) - 2; hosts < firstNodeHost+nodes {
		return subnetLayout{}, fmt.Errorf("node subnet %q: too small for %d nodes at .%d and up", cidr, nodes, firstNodeHost)
	}
	return subnetLayout{subnet: subnet}, nil
}

// hostIP is the bridge's address (the nodes' default gateway and where
// the API server listens): the first address of the subnet.
func (l subnetLayout) hostIP() net.IP { return l.nth(1) }

// nodeIP is node i's address.
func (l subnetLayout) nodeIP(i int) net.IP { return l.nth(firstNodeHost + i) }

// cidr is ip with the subnet's prefix length, as given to `ip addr add`.
func (l subnetLayout) cidr(ip net.IP) *net.IPNet { return &net.IPNet{IP: ip, Mask: l.subnet.Mask} }

func (l subnetLayout) nth(n int) net.IP {
	base := binary.BigEndian.Uint32(l.subnet.IP.To4())
	out := make(net.IP, 4)
	binary.BigEndian.PutUint32(out, base+uint32(n))
	return out
}

// DefaultNetnsDir is where a cluster's state lives by default:
// ~/.kubelab/clusters/<name>.
func DefaultNetnsDir(name string) (string, error) {
	base, err := NetnsClustersDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, name), nil
}

// NetnsClustersDir is the directory that holds every cluster's state
// directory (~/.kubelab/clusters).
func NetnsClustersDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory for the cluster state (pass a directory): %w", err)
	}
	return filepath.Join(home, ".kubelab", "clusters"), nil
}

// save writes the state atomically: a crash mid-write must not lose the
// record of what needs deleting.
func (s *netnsState) save() error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode cluster state: %w", err)
	}
	path := filepath.Join(s.Dir, stateFileName)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write cluster state %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write cluster state %s: %w", path, err)
	}
	return nil
}

// loadState reads <dir>/cluster.json; a missing file is reported with
// errors.Is(err, os.ErrNotExist).
func loadState(dir string) (*netnsState, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFileName))
	if err != nil {
		return nil, fmt.Errorf("read cluster state: %w", err)
	}
	s := &netnsState{}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("decode cluster state %s: %w", filepath.Join(dir, stateFileName), err)
	}
	if s.Dir == "" {
		s.Dir = dir
	}
	return s, nil
}
