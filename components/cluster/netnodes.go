package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// A network-namespace cluster (`kubelab cluster create`) is the hard way's
// worker VMs, without VMs: every node is a network namespace on one host
// bridge, running the real kubelet binary with its own root dir and cgroup
// parent; the control plane is `kubelab up` on the host side of the bridge.
// Both run as background processes, so the cluster outlives the command
// that made it, and the state directory records everything for delete:
//
//	create: state file -> bridge -> netns + veth per node -> `kubelab up`
//	        (detached) -> /readyz -> per node: certs, kubeconfig, kubelet
//	        (detached, inside its netns) -> every Node Ready -> kubeconfig
//	delete: kubelets -> leftover pods/monitors -> control plane -> mounts
//	        -> cgroups -> netns -> links -> kubeconfig context -> state dir

// NetnsOptions configure CreateNetnsCluster and DeleteNetnsCluster.
type NetnsOptions struct {
	// Name names the cluster, its kubeconfig context, its bridge, netns and
	// nodes (default "lab").
	Name string
	// Nodes is how many nodes to create (default 1).
	Nodes int
	// Network is how pods reach other nodes: "routes" (default) or "vxlan"
	// (the kubelet's --network-mode).
	Network string
	// Dir holds the cluster's state (default ~/.kubelab/clusters/<name>).
	Dir string
	// Subnet is the node network (default 10.240.0.0/24). Clusters that
	// run at the same time need different subnets.
	Subnet string
	// KubeletBinary and KubelabBinary are the programs to run (default:
	// this program if it is kubelab, and kubelet next to it, else $PATH).
	KubeletBinary, KubelabBinary string
	// Kubeconfig, when set, gets the admin context merged in (create) and
	// removed again (delete). Tests leave it empty and use AdminKubeconfig.
	Kubeconfig string
	// ReadyTimeout bounds each wait: control plane ready, nodes Ready
	// (default 2 minutes).
	ReadyTimeout time.Duration
	// KeepOnFailure leaves a partly created cluster in place for
	// debugging instead of deleting it.
	KeepOnFailure bool
	// Progress, when set, hears about every finished step.
	Progress func(NetnsStep)
}

// NetnsStep is one finished step of a create or delete, for progress
// output.
type NetnsStep struct {
	Name   string
	Detail string
	Took   time.Duration
}

// NetnsNode is one node of a network-namespace cluster.
type NetnsNode struct {
	// Name is the Node name (node-0, or <cluster>-node-0).
	Name string
	// IP is its address on the node network (10.240.0.20, ...).
	IP string
	// Netns is the pinned namespace's name (`ip netns exec <Netns> ...`).
	Netns string
}

// NetnsCluster is a running network-namespace cluster.
type NetnsCluster struct {
	Name string
	Dir  string
	// Server is the API server's URL (https://10.240.0.1:6443).
	Server string
	// AdminKubeconfig is a standalone cluster-admin kubeconfig.
	AdminKubeconfig string
	Nodes           []NetnsNode

	opts    NetnsOptions
	kubelet string // the kubelet binary

	mu       sync.Mutex
	state    *netnsState
	kubelets map[string]*daemon
}

func (o *NetnsOptions) defaults() error {
	if o.Name == "" {
		o.Name = DefaultNetnsClusterName
	}
	if err := validateClusterName(o.Name); err != nil {
		return err
	}
	if o.Network == "" {
		o.Network = "routes"
	}
	if o.Network != "routes" && o.Network != "vxlan" {
		return fmt.Errorf("network %q: want routes or vxlan", o.Network)
	}
	if o.Subnet == "" {
		o.Subnet = DefaultNodeSubnet
	}
	if o.Dir == "" {
		d, err := DefaultNetnsDir(o.Name)
		if err != nil {
			return err
		}
		o.Dir = d
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return fmt.Errorf("state directory %s: %w", o.Dir, err)
	}
	o.Dir = abs
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 2 * time.Minute
	}
	return nil
}

// DeleteCommand is the command that deletes the cluster o describes, for
// messages.
func (o NetnsOptions) DeleteCommand() string {
	cmd := "kubelab cluster delete --name " + o.Name
	if def, err := DefaultNetnsDir(o.Name); err == nil && o.Dir != "" && o.Dir != def {
		cmd += " --dir " + o.Dir
	}
	return cmd
}

func (o NetnsOptions) step(name, detail string, start time.Time) {
	if o.Progress != nil {
		o.Progress(NetnsStep{Name: name, Detail: detail, Took: time.Since(start)})
	}
}

// CreateNetnsCluster builds the cluster and returns once every node is
// Ready. The processes keep running after this program exits; Delete (or
// DeleteNetnsCluster, or `kubelab cluster delete`) removes everything. A
// failed create cleans up after itself unless KeepOnFailure is set.
func CreateNetnsCluster(ctx context.Context, o NetnsOptions) (_ *NetnsCluster, err error) {
	if o.Nodes == 0 {
		o.Nodes = 1
	}
	if o.Nodes < 0 || o.Nodes > maxNetnsNodes {
		return nil, fmt.Errorf("%d nodes: want 1 to %d", o.Nodes, maxNetnsNodes)
	}
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("creating a cluster needs root (network namespaces, a bridge, cgroups, mounts): run it with sudo")
	}
	layout, err := parseSubnet(o.Subnet, o.Nodes)
	if err != nil {
		return nil, err
	}
	kubelab, err := kubelabBinary(o.KubelabBinary)
	if err != nil {
		return nil, err
	}
	self, _ := os.Executable()
	kubelet, err := findBinary(o.KubeletBinary, "kubelet", kubelab, self)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(o.Dir, stateFileName)); err == nil {
		return nil, fmt.Errorf("cluster %q already exists (state in %s): delete it first with `%s`", o.Name, o.Dir, o.DeleteCommand())
	}
	if what, used := subnetInUse(layout.subnet); used {
		return nil, fmt.Errorf("node subnet %s is already in use on this host (%s): another cluster? pick another subnet (e.g. 10.240.1.0/24) or delete that cluster", o.Subnet, what)
	}

	s := &netnsState{Name: o.Name, Dir: o.Dir, Network: o.Network, Subnet: o.Subnet, Bridge: bridgeName(o.Name),
		HostIP: layout.hostIP().String(), CgroupParents: selfCgroupPaths(), Created: time.Now().UTC()}
	for i := range o.Nodes {
		s.Nodes = append(s.Nodes, nodeState{Name: netnsNodeName(o.Name, i), IP: layout.nodeIP(i).String(),
			Netns: netnsName(o.Name, i), HostVeth: hostVethName(o.Name, i)})
	}
	c := &NetnsCluster{Name: o.Name, Dir: o.Dir, opts: o, kubelet: kubelet, state: s, kubelets: map[string]*daemon{},
		AdminKubeconfig: filepath.Join(controlPlaneDir(o.Dir), "admin.kubeconfig")}
	for _, n := range s.Nodes {
		c.Nodes = append(c.Nodes, NetnsNode{Name: n.Name, IP: n.IP, Netns: n.Netns})
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory %s: %w", o.Dir, err)
	}
	// From here on, the state file says what to undo.
	if err := s.save(); err != nil {
		return nil, err
	}
	defer func() {
		if err == nil {
			return
		}
		if o.KeepOnFailure {
			err = fmt.Errorf("%w\n(the partial cluster is kept for debugging; logs in %s; remove it with `%s`)", err, filepath.Join(o.Dir, "logs"), o.DeleteCommand())
			return
		}
		delCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if derr := c.Delete(delCtx); derr != nil {
			err = fmt.Errorf("%w\n(cleaning up the partial cluster failed too: %v; run `%s`)", err, derr, o.DeleteCommand())
		}
	}()
	if err := c.createNetwork(layout); err != nil {
		return nil, err
	}
	if err := c.startControlPlane(ctx, kubelab); err != nil {
		return nil, err
	}
	for _, n := range s.Nodes {
		start := time.Now()
		if err := writeNodeCredentials(o.Dir, o.Name, c.Server, n); err != nil {
			return nil, err
		}
		if err := c.StartKubelet(n.Name); err != nil {
			return nil, err
		}
		o.step("kubelet "+n.Name, fmt.Sprintf("pid %d, log %s", c.kubelets[n.Name].id.PID, kubeletLog(o.Dir, n.Name)), start)
	}
	if err := c.waitNodesReady(ctx); err != nil {
		return nil, err
	}
	if o.Kubeconfig != "" {
		start := time.Now()
		if err := c.mergeKubeconfig(o.Kubeconfig); err != nil {
			return nil, err
		}
		o.step("kubeconfig", fmt.Sprintf("context %q merged into %s", o.Name, o.Kubeconfig), start)
	}
	return c, nil
}

// createNetwork makes the bridge and every node's namespace and veth.
func (c *NetnsCluster) createNetwork(layout subnetLayout) error {
	s, o := c.state, c.opts
	start := time.Now()
	hostIP := layout.hostIP()
	if err := ensureBridge(s.Bridge, layout.cidr(hostIP)); err != nil {
		return err
	}
	o.step("bridge", fmt.Sprintf("%s %s", s.Bridge, layout.cidr(hostIP)), start)
	for _, n := range s.Nodes {
		start := time.Now()
		if err := createNetns(n.Netns); err != nil {
			return err
		}
		ip := layout.cidr(net.ParseIP(n.IP).To4())
		if err := wireNode(s.Bridge, n.HostVeth, n.Netns, ip, hostIP); err != nil {
			return err
		}
		o.step("netns "+n.Name, fmt.Sprintf("%s, eth0 %s, veth %s", n.Netns, ip, n.HostVeth), start)
	}
	return nil
}

// kubeletLog is where node's kubelet writes its log.
func kubeletLog(dir, node string) string { return filepath.Join(dir, "logs", node+".log") }

// node finds a node's state by name.
func (c *NetnsCluster) node(name string) (*nodeState, error) {
	for i := range c.state.Nodes {
		if c.state.Nodes[i].Name == name {
			return &c.state.Nodes[i], nil
		}
	}
	names := make([]string, 0, len(c.state.Nodes))
	for _, n := range c.state.Nodes {
		names = append(names, n.Name)
	}
	return nil, fmt.Errorf("no node %q in cluster %s (nodes: %s)", name, c.Name, strings.Join(names, ", "))
}
