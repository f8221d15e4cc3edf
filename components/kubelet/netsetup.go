package kubelet

import (
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubelab/kubelab/components/kubelet/network"
	"github.com/kubelab/kubelab/components/nodestatus"
)

// podNetwork is the node's pod network once it has a pod CIDR. Until then
// (the node IPAM controller has not given the node one yet) the node is
// NotReady, like a kubelet whose CNI is not initialised.
type podNetwork struct {
	mu    sync.Mutex
	m     *network.Manager
	cidrs []string
}

func (n *podNetwork) attach(uid, netns string) ([]net.IP, error) {
	res, err := n.m.Attach(uid, netns, "eth0")
	if err != nil {
		return nil, err
	}
	ips := make([]net.IP, 0, len(res.IPs))
	for _, ipn := range res.IPs {
		ips = append(ips, ipn.IP)
	}
	return ips, nil
}

func (n *podNetwork) detach(uid, netns string) error { return n.m.Detach(uid, netns) }

// nodesChanged runs on every Node event: it sets up the pod network once our
// node has a pod CIDR, and keeps routes (or VXLAN peers) to the other nodes
// in step with their Node objects.
func (k *Kubelet) nodesChanged() {
	me, err := k.nodeLister.Get(k.o.NodeName)
	if err != nil {
		return
	}
	cidrs := me.Spec.PodCIDRs
	if len(cidrs) == 0 && me.Spec.PodCIDR != "" {
		cidrs = []string{me.Spec.PodCIDR}
	}
	if len(cidrs) == 0 && k.o.PodCIDR != "" {
		cidrs = []string{k.o.PodCIDR}
	}
	if len(cidrs) == 0 {
		k.node.setHealth(nodestatus.Health{NotReady: "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:the node has no pod CIDR yet (is the node IPAM controller running with --allocate-node-cidrs?)"})
		return
	}
	pn := k.net.Load()
	if pn == nil {
		m, err := network.New(network.Config{
			NodeName: k.o.NodeName, BridgeName: k.o.BridgeName, PodCIDRs: cidrs,
			NodeIP: k.nodeIP, Mode: k.o.NetworkMode, MTU: k.o.MTU,
			StateDir: filepath.Join(k.o.RootDir, "network"),
		})
		if err == nil {
			err = m.Setup()
		}
		if err != nil {
			slog.Error("setting up the pod network failed", "node", k.o.NodeName, "cidrs", cidrs, "err", err)
			k.node.setHealth(nodestatus.Health{NotReady: "container runtime network not ready: " + err.Error()})
			return
		}
		pn = &podNetwork{m: m, cidrs: cidrs}
		k.net.Store(pn)
		if err := k.saveNetwork(cidrs); err != nil {
			slog.Warn("saving the network settings failed ('kubelab down' may leave the bridge)", "err", err)
		}
		slog.Info("pod network ready", "node", k.o.NodeName, "podCIDRs", cidrs, "mode", k.o.NetworkMode)
		k.node.setHealth(nodestatus.Health{})
		k.readyOnce.Do(func() { close(k.ready) })
		k.workers.pokeAll()
	} else if !slices.Equal(pn.cidrs, cidrs) {
		slog.Warn("the node's pod CIDR changed; restart the kubelet to use it", "had", pn.cidrs, "now", cidrs)
	}
	if k.o.NetworkMode == network.ModeNone {
		return
	}
	nodes, err := k.nodeLister.List(labels.Everything())
	if err != nil {
		return
	}
	var peers []network.Peer
	for _, n := range nodes {
		if n.Name == k.o.NodeName {
			continue
		}
		p := network.Peer{Name: n.Name, PodCIDRs: n.Spec.PodCIDRs, IP: internalIP(n)}
		if len(p.PodCIDRs) == 0 && n.Spec.PodCIDR != "" {
			p.PodCIDRs = []string{n.Spec.PodCIDR}
		}
		if p.IP == nil || len(p.PodCIDRs) == 0 {
			continue
		}
		peers = append(peers, p)
	}
	if err := pn.m.SyncPeers(peers); err != nil {
		slog.Warn("syncing routes to other nodes failed", "err", err)
	}
}

func internalIP(n *corev1.Node) net.IP {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return net.ParseIP(a.Address)
		}
	}
	return nil
}
