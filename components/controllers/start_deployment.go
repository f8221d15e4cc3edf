package controllers

import (
	"context"

	"github.com/kubelab/kubelab/components/controllers/deployment"
)

func init() {
	register("deployment", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("deployment-controller")
		if err != nil {
			return nil, err
		}
		apps := c.informers.Apps().V1()
		d, err := deployment.New(kube, apps.Deployments(), apps.ReplicaSets(), c.informers.Core().V1().Pods(),
			c.recorder(kube, "deployment-controller"))
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return d.Run(ctx, 5) }, nil // upstream --concurrent-deployment-syncs=5
	})
}
