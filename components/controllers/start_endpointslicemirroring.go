package controllers

import (
	"context"

	"github.com/kubelab/kubelab/components/controllers/endpointslice"
)

func init() {
	register("endpointslicemirroring", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("endpointslicemirroring-controller")
		if err != nil {
			return nil, err
		}
		core := c.informers.Core().V1()
		ctrl, err := endpointslice.NewMirroring(kube, core.Services(), core.Endpoints(), c.informers.Discovery().V1().EndpointSlices(),
			c.recorder(kube, "endpoint-slice-mirroring-controller"))
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return ctrl.Run(ctx, 5) }, nil // upstream --mirroring-concurrent-service-endpoint-syncs=5
	})
}
