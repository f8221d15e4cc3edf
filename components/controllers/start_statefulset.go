package controllers

import (
	"context"

	"github.com/kubelab/kubelab/components/controllers/statefulset"
)

func init() {
	register("statefulset", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("statefulset-controller")
		if err != nil {
			return nil, err
		}
		ss, err := statefulset.New(kube, c.informers.Apps().V1().StatefulSets(), c.informers.Core().V1().Pods(),
			c.informers.Core().V1().PersistentVolumeClaims(), c.informers.Apps().V1().ControllerRevisions(),
			c.recorder(kube, "statefulset-controller"))
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return ss.Run(ctx, 5) }, nil // upstream --concurrent-statefulset-syncs=5
	})
}
