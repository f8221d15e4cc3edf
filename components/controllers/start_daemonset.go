package controllers

import (
	"context"

	"github.com/kubelab/kubelab/components/controllers/daemonset"
)

func init() {
	register("daemonset", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("daemon-set-controller")
		if err != nil {
			return nil, err
		}
		apps, core := c.informers.Apps().V1(), c.informers.Core().V1()
		ds, err := daemonset.New(kube, apps.DaemonSets(), apps.ControllerRevisions(), core.Pods(), core.Nodes(),
			c.recorder(kube, "daemonset-controller"))
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return ds.Run(ctx, 2) }, nil // upstream --concurrent-daemonset-syncs=2
	})
}
