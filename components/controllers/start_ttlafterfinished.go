package controllers

import (
	"context"

	"github.com/kubelab/kubelab/components/controllers/ttlafterfinished"
)

func init() {
	register("ttl-after-finished", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("ttl-after-finished-controller")
		if err != nil {
			return nil, err
		}
		ttl, err := ttlafterfinished.New(kube, c.informers.Batch().V1().Jobs())
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return ttl.Run(ctx, 5) }, nil // upstream --concurrent-ttl-after-finished-syncs=5
	})
}
