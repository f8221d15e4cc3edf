package controllers

import (
	"context"

	"k8s.io/client-go/dynamic"

	"github.com/kubelab/kubelab/components/controllers/namespace"
)

func init() {
	register("namespace", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("namespace-controller")
		if err != nil {
			return nil, err
		}
		dyn, err := dynamic.NewForConfig(c.config("namespace-controller"))
		if err != nil {
			return nil, err
		}
		ns, err := namespace.New(kube, dyn, c.informers.Core().V1().Namespaces())
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return ns.Run(ctx, 10) }, nil // upstream --concurrent-namespace-syncs=10
	})
}
