package controllers

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/kubelab/kubelab/components/controllers/podautoscaler"
)

func init() {
	register("horizontalpodautoscaling", func(c *clients) (func(context.Context) error, error) {
		const agent = "horizontal-pod-autoscaler"
		kube, err := c.kube(agent)
		if err != nil {
			return nil, err
		}
		// The target may be any kind with a /scale subresource, custom
		// resources included: discovery says which resource serves a kind,
		// and the scale client speaks to /scale of any of them.
		mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(kube.Discovery()))
		scales, err := scale.NewForConfig(c.config(agent), mapper, dynamic.LegacyAPIPathResolverFunc,
			scale.NewDiscoveryScaleKindResolver(kube.Discovery()))
		if err != nil {
			return nil, err
		}
		metrics, err := metricsclient.NewForConfig(c.config(agent))
		if err != nil {
			return nil, err
		}
		hpa, err := podautoscaler.New(kube, scales, mapper, podautoscaler.NewResourceMetricsClient(metrics.MetricsV1beta1()),
			c.informers.Autoscaling().V2().HorizontalPodAutoscalers(), c.informers.Core().V1().Pods(),
			c.recorder(kube, agent), podautoscaler.Options{
				SyncPeriod:             c.settings.HPASyncPeriod,
				DownscaleStabilization: c.settings.HPADownscaleStabilization,
			})
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error {
			// New CRDs appear at run time: forget the cached discovery now
			// and then, as upstream does every 30 seconds.
			go wait.UntilWithContext(ctx, func(context.Context) { mapper.Reset() }, 30*time.Second)
			return hpa.Run(ctx, 5) // upstream --concurrent-horizontal-pod-autoscaler-syncs=5
		}, nil
	})
}
