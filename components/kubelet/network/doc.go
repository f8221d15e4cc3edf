// Package network is the kubelet's pod network: the box that a CNI bridge
// plugin, host-local IPAM and flannel fill on a real node.
//
// The kubelet calls it from inside the node's network namespace:
//
//	Setup     node netns: bridge cni0 (10.200.1.1/24), forwarding sysctls,
//	          and a VXLAN device in vxlan mode
//	Attach    pod: IPAM picks an address from node.spec.podCIDRs, a veth pair
//	          joins the pod netns (eth0, default route via the bridge) to cni0
//	SyncPeers other nodes: routes to their pod CIDRs, either host-gw
//	          ("podCIDR via nodeIP") or flannel-style VXLAN (onlink route via
//	          the peer's VTEP address + static ARP/NDP + bridge FDB entries)
//	Detach    pod gone: veth deleted, addresses released
//	Teardown  node gone: everything above removed
//
//	   pod A netns            node netns                         node netns
//	  +-----------+   veth   +------+    routes: via nodeIP     +------+
//	  | eth0 .1.2 |----------| cni0 |---- eth0 ----------- eth0 | cni0 |-- pod B
//	  +-----------+          +------+    vxlan: kubelab.1 (UDP  +------+
//	                                      4789 over the node net)
//
// The pure pieces (IPAM, CIDR arithmetic, VTEP MAC derivation, route diffing)
// live in their own files and know nothing about netlink; manager.go, attach.go
// and peers.go turn their answers into kernel state with vishvananda/netlink.
package network
