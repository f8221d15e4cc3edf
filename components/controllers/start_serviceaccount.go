package controllers

import (
	"context"

	"github.com/kubelab/kubelab/components/controllers/serviceaccount"
)

func init() {
	register("serviceaccount", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("service-account-controller")
		if err != nil {
			return nil, err
		}
		core := c.informers.Core().V1()
		ctrl, err := serviceaccount.New(kube, core.Namespaces(), core.ServiceAccounts())
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return ctrl.Run(ctx, 1) }, nil // upstream runs one worker
	})
}
