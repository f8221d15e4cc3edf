package controllers

import (
	"context"

	"github.com/kubelab/kubelab/components/controllers/replicaset"
)

func init() {
	register("replicationcontroller", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("replication-controller")
		if err != nil {
			return nil, err
		}
		rc, err := replicaset.NewReplicationController(kube, c.informers.Core().V1().ReplicationControllers(),
			c.informers.Core().V1().Pods(), c.recorder(kube, "replication-controller"))
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return rc.Run(ctx, 5) }, nil // upstream --concurrent-rc-syncs=5
	})
}
