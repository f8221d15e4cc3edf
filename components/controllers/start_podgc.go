package controllers

import (
	"context"

	"github.com/kubelab/kubelab/components/controllers/podgc"
)

func init() {
	register("podgc", func(c *clients) (func(context.Context) error, error) {
		kube, err := c.kube("pod-garbage-collector")
		if err != nil {
			return nil, err
		}
		gc := podgc.New(kube, c.informers.Core().V1().Pods(), c.informers.Core().V1().Nodes(),
			podgc.Options{TerminatedPodThreshold: c.settings.TerminatedPodGCThreshold})
		return gc.Run, nil
	})
}
