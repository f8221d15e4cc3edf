package controllers

import (
	"context"

	"github.com/kubelab/kubelab/components/controllers/endpointslice"
)

func init() {
	register("endpointslice", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("endpointslice-controller")
		if err != nil {
			return nil, err
		}
		core := c.informers.Core().V1()
		ctrl, err := endpointslice.New(kube, core.Services(), core.Pods(), core.Nodes(), c.informers.Discovery().V1().EndpointSlices(),
			c.recorder(kube, "endpoint-slice-controller"), endpointslice.DefaultMaxEndpointsPerSlice) // --max-endpoints-per-slice=100
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return ctrl.Run(ctx, 5) }, nil // upstream --concurrent-service-endpoint-syncs=5
	})
}
