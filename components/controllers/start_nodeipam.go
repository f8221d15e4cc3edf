package controllers

import (
	"context"
	"log/slog"

	"github.com/kubelab/kubelab/components/controllers/nodeipam"
)

func init() {
	register("nodeipam", func(c *clients) (func(context.Context) error, error) {
		s := c.settings
		if !s.AllocateNodeCIDRs {
			// Like upstream: without --allocate-node-cidrs, node CIDRs are
			// somebody else's business (the kubelet's --pod-cidr, a CNI plugin).
			return func(ctx context.Context) error {
				slog.Info("node IPAM off: --allocate-node-cidrs is false", "controller", "nodeipam")
				<-ctx.Done()
				return nil
			}, nil
		}
		alloc, err := nodeipam.NewAllocator(s.ClusterCIDRs, s.NodeCIDRMaskSizeIPv4, s.NodeCIDRMaskSizeIPv6, s.ServiceCIDRs)
		if err != nil {
			return nil, err
		}
		kube, err := c.kube("node-controller") // upstream's IPAM runs under the node controller's identity
		if err != nil {
			return nil, err
		}
		ipam, err := nodeipam.New(kube, c.recorder(kube, "cidrAllocator"), c.informers.Core().V1().Nodes(), alloc)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return ipam.Run(ctx, 1) }, nil
	})
}
