package controllers

import (
	"context"

	"github.com/kubelab/kubelab/components/controllers/endpoints"
)

func init() {
	register("endpoint", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("endpoint-controller")
		if err != nil {
			return nil, err
		}
		core := c.informers.Core().V1()
		ctrl, err := endpoints.New(kube, core.Services(), core.Pods(), core.Endpoints(), c.recorder(kube, endpoints.ControllerName))
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return ctrl.Run(ctx, 5) }, nil // upstream --concurrent-endpoint-syncs=5
	})
}
