package controllers

import (
	"context"

	"k8s.io/client-go/metadata"

	"github.com/kubelab/kubelab/components/controllers/garbagecollector"
)

func init() {
	register("garbagecollector", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("generic-garbage-collector")
		if err != nil {
			return nil, err
		}
		md, err := metadata.NewForConfig(c.config("generic-garbage-collector"))
		if err != nil {
			return nil, err
		}
		gc := garbagecollector.New(md, kube.Discovery())
		return func(ctx context.Context) error { return gc.Run(ctx, 20) }, nil // upstream --concurrent-gc-syncs=20
	})
}
