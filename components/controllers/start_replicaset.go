package controllers

import (
	"context"

	"github.com/kubelab/kubelab/components/controllers/replicaset"
)

func init() {
	register("replicaset", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("replicaset-controller")
		if err != nil {
			return nil, err
		}
		rs, err := replicaset.New(kube, c.informers.Apps().V1().ReplicaSets().Informer(), c.informers.Core().V1().Pods(),
			c.recorder(kube, "replicaset-controller"))
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return rs.Run(ctx, 5) }, nil // upstream --concurrent-replicaset-syncs=5
	})
}
