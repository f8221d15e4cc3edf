package controllers

import (
	"context"

	"github.com/kubelab/kubelab/components/controllers/job"
)

func init() {
	register("job", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("job-controller")
		if err != nil {
			return nil, err
		}
		jc, err := job.New(kube, c.informers.Batch().V1().Jobs(), c.informers.Core().V1().Pods(), c.recorder(kube, "job-controller"))
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return jc.Run(ctx, 5) }, nil // upstream --concurrent-job-syncs=5
	})
}
