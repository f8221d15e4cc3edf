package podautoscaler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/record"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
	"k8s.io/utils/ptr"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/controllers/podautoscaler"
)

// TestHPAWithoutMetricsServer: against a real API server that serves no
// metrics.k8s.io, an HPA on a Deployment reads the target's /scale
// (AbleToScale True) and says it cannot compute replicas, with the
// conditions a real cluster without metrics-server shows.
func TestHPAWithoutMetricsServer(t *testing.T) {
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kube := kubernetes.NewForConfigOrDie(cfg)

	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(kube.Discovery()))
	scales, err := scale.NewForConfig(cfg, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(kube.Discovery()))
	clustertest.Must(t, err)
	metrics := podautoscaler.NewResourceMetricsClient(metricsclient.NewForConfigOrDie(cfg).MetricsV1beta1())
	factory := informers.NewSharedInformerFactory(kube, 0)
	c, err := podautoscaler.New(kube, scales, mapper, metrics, factory.Autoscaling().V2().HorizontalPodAutoscalers(), factory.Core().V1().Pods(),
		record.NewFakeRecorder(100), podautoscaler.Options{SyncPeriod: time.Second, DownscaleStabilization: time.Minute})
	clustertest.Must(t, err)
	factory.Start(ctx.Done())
	go c.Run(ctx, 1)

	labels := map[string]string{"app": "web"}
	clustertest.Create(t, ctx, kube.AppsV1().Deployments("default"), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	})
	clustertest.Create(t, ctx, kube.AutoscalingV2().HorizontalPodAutoscalers("default"), &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MaxReplicas:    5,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](50)}}}},
		},
	})

	var hpa *autoscalingv2.HorizontalPodAutoscaler
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		hpa, err = kube.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return len(hpa.Status.Conditions) >= 2, nil
	})
	if err != nil {
		t.Fatalf("waiting for HPA conditions: %v", err)
	}
	conds := map[autoscalingv2.HorizontalPodAutoscalerConditionType]autoscalingv2.HorizontalPodAutoscalerCondition{}
	for _, c := range hpa.Status.Conditions {
		conds[c.Type] = c
	}
	if c := conds[autoscalingv2.AbleToScale]; c.Status != corev1.ConditionTrue || c.Reason != "SucceededGetScale" {
		t.Errorf("AbleToScale = %+v, want True/SucceededGetScale", c)
	}
	active := conds[autoscalingv2.ScalingActive]
	if active.Status != corev1.ConditionFalse || active.Reason != "FailedGetResourceMetric" ||
		!strings.HasPrefix(active.Message, "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API:") {
		t.Errorf("ScalingActive = %+v, want False/FailedGetResourceMetric with upstream's message", active)
	}
	if hpa.Status.CurrentReplicas != 2 {
		t.Errorf("currentReplicas = %d, want 2 (read from /scale)", hpa.Status.CurrentReplicas)
	}
	d, err := kube.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	clustertest.Must(t, err)
	if *d.Spec.Replicas != 2 {
		t.Errorf("deployment replicas = %d, want 2 (no metrics, no scaling)", *d.Spec.Replicas)
	}
	t.Logf("ScalingActive message: %s", active.Message)
}
