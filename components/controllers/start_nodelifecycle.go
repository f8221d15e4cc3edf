package controllers

import (
	"context"

	"github.com/kubelab/kubelab/components/controllers/nodelifecycle"
	"github.com/kubelab/kubelab/components/controllers/nodelifecycle/tainteviction"
)

func init() {
	register("nodelifecycle", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("node-controller")
		if err != nil {
			return nil, err
		}
		s := c.settings
		nlc, err := nodelifecycle.New(kube, c.recorder(kube, "node-controller"),
			c.informers.Core().V1().Nodes(), c.informers.Coordination().V1().Leases(), c.informers.Core().V1().Pods(),
			nodelifecycle.Options{
				MonitorPeriod: s.NodeMonitorPeriod,
				Periods:       nodelifecycle.Periods{Grace: s.NodeMonitorGracePeriod, Startup: s.NodeStartupGracePeriod},
				// Zero values are upstream's defaults (--node-eviction-rate 0.1,
				// --secondary-node-eviction-rate 0.01, --unhealthy-zone-threshold
				// 0.55, --large-cluster-size-threshold 50).
				Eviction: nodelifecycle.Eviction{Rate: s.NodeEvictionRate, SecondaryRate: s.SecondaryNodeEvictionRate,
					UnhealthyZoneThreshold: s.UnhealthyZoneThreshold, LargeClusterSize: s.LargeClusterSizeThreshold},
			})
		if err != nil {
			return nil, err
		}
		return nlc.Run, nil
	})
	// Since Kubernetes 1.29 taint-based eviction is its own controller,
	// so it can be swapped for another (--controllers=-taint-eviction-controller).
	register("taint-eviction-controller", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("taint-eviction-controller")
		if err != nil {
			return nil, err
		}
		tec, err := tainteviction.New(kube, c.recorder(kube, "taint-eviction-controller"),
			c.informers.Core().V1().Pods(), c.informers.Core().V1().Nodes(), nodelifecycle.AddNodeNameIndex)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return tec.Run(ctx, 8) }, nil
	})
}
