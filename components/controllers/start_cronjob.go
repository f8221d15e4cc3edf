package controllers

import (
	"context"

	"github.com/kubelab/kubelab/components/controllers/cronjob"
)

func init() {
	register("cronjob", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("cronjob-controller")
		if err != nil {
			return nil, err
		}
		cj, err := cronjob.New(kube, c.informers.Batch().V1().CronJobs(), c.informers.Batch().V1().Jobs(), c.recorder(kube, "cronjob-controller"))
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return cj.Run(ctx, 5) }, nil // upstream --concurrent-cron-job-syncs=5
	})
}
