package controllers

import (
	"context"

	"github.com/kubelab/kubelab/components/controllers/disruption"
)

func init() {
	register("disruption", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("disruption-controller")
		if err != nil {
			return nil, err
		}
		f := c.informers
		d, err := disruption.New(kube, disruption.Informers{
			PDBs: f.Policy().V1().PodDisruptionBudgets(), Pods: f.Core().V1().Pods(),
			ReplicationControllers: f.Core().V1().ReplicationControllers(), ReplicaSets: f.Apps().V1().ReplicaSets(),
			Deployments: f.Apps().V1().Deployments(), StatefulSets: f.Apps().V1().StatefulSets(),
		}, c.recorder(kube, "controllermanager")) // upstream's event source for this controller
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return d.Run(ctx, 1) }, nil // upstream runs one worker
	})
}
