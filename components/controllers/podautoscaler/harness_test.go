package podautoscaler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeMetrics serves fixed usage per pod, or an error.
type fakeMetrics struct {
	usage map[string]int64 // pod name → milli-units
	err   error
}

func (f *fakeMetrics) PodResources(_ context.Context, _ string, _ labels.Selector, _ corev1.ResourceName) (map[string]PodMetric, time.Time, error) {
	if f.err != nil {
		return nil, time.Time{}, f.err
	}
	out := map[string]PodMetric{}
	for name, v := range f.usage {
		out[name] = PodMetric{Timestamp: now, Window: time.Minute, Value: v}
	}
	return out, now, nil
}

// fakeScales is the /scale of one Deployment.
type fakeScales struct {
	replicas int32
	selector string
	updates  []int32
}

func (f *fakeScales) Scales(string) scale.ScaleInterface { return f }

func (f *fakeScales) Get(_ context.Context, gr schema.GroupResource, name string, _ metav1.GetOptions) (*autoscalingv1.Scale, error) {
	if gr.Resource != "deployments" || name != "web" {
		return nil, apierrors.NewNotFound(gr, name)
	}
	return &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec: autoscalingv1.ScaleSpec{Replicas: f.replicas}, Status: autoscalingv1.ScaleStatus{Replicas: f.replicas, Selector: f.selector}}, nil
}

func (f *fakeScales) Update(_ context.Context, _ schema.GroupResource, s *autoscalingv1.Scale, _ metav1.UpdateOptions) (*autoscalingv1.Scale, error) {
	f.replicas = s.Spec.Replicas
	f.updates = append(f.updates, s.Spec.Replicas)
	return s, nil
}

func (f *fakeScales) Patch(context.Context, schema.GroupVersionResource, string, types.PatchType, []byte, metav1.PatchOptions) (*autoscalingv1.Scale, error) {
	return nil, errors.New("not implemented")
}

type harness struct {
	c        *Controller
	kube     *fake.Clientset
	scales   *fakeScales
	metrics  *fakeMetrics
	hpas     cache.Indexer
	recorder *record.FakeRecorder
	clock    time.Time
}

// newHarness: a Deployment "web" with the given pods (each requesting
// 100m cpu), an HPA, and a metrics source.
func newHarness(t *testing.T, hpa *autoscalingv2.HorizontalPodAutoscaler, replicas int32, pods []*corev1.Pod, m *fakeMetrics) *harness {
	t.Helper()
	h := &harness{
		kube:     fake.NewClientset(hpa),
		scales:   &fakeScales{replicas: replicas, selector: "app=web"},
		metrics:  m,
		hpas:     cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}),
		recorder: record.NewFakeRecorder(100),
		clock:    now,
	}
	podIndex := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, p := range pods {
		if err := podIndex.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	mapper := apimeta.NewDefaultRESTMapper([]schema.GroupVersion{{Group: "apps", Version: "v1"}})
	mapper.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, apimeta.RESTScopeNamespace)
	h.c = &Controller{
		kube: h.kube, scales: h.scales, mapper: mapper,
		hpas: autoscalinglisters.NewHorizontalPodAutoscalerLister(h.hpas), history: newHistory(), recorder: h.recorder,
		syncPeriod: 15 * time.Second, downscaleWindow: 5 * time.Minute, tolerance: defaultTolerance,
		now: func() time.Time { return h.clock },
	}
	h.c.calc = &calculator{metrics: m, pods: corelisters.NewPodLister(podIndex), now: h.c.now}
	return h
}

// sync refreshes the HPA cache from the fake API server and syncs once.
func (h *harness) sync(t *testing.T) error {
	t.Helper()
	hpa, err := h.kube.AutoscalingV2().HorizontalPodAutoscalers("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.hpas.Replace([]interface{}{hpa}, ""); err != nil {
		t.Fatal(err)
	}
	_, err = h.c.sync(context.Background(), "ns/web")
	return err
}

func (h *harness) hpa(t *testing.T) *autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	hpa, err := h.kube.AutoscalingV2().HorizontalPodAutoscalers("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return hpa
}

func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func condition(hpa *autoscalingv2.HorizontalPodAutoscaler, typ autoscalingv2.HorizontalPodAutoscalerConditionType) string {
	for _, c := range hpa.Status.Conditions {
		if c.Type == typ {
			return fmt.Sprintf("%s/%s", c.Status, c.Reason)
		}
	}
	return ""
}

func newHPA(minR, maxR int32, target int32) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "hpa-uid"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    ptr.To(minR), MaxReplicas: maxR,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To(target)}}}},
		},
	}
}

// runningPods makes n ready, long-running pods web-0… requesting 100m cpu.
func runningPods(n int) []*corev1.Pod {
	var out []*corev1.Pod
	started := metav1.NewTime(now.Add(-time.Hour))
	for i := 0; i < n; i++ {
		out = append(out, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: "ns", Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &started,
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: started}}},
		})
	}
	return out
}

// usage gives each of the first n pods the same usage.
func usage(n int, milli int64) map[string]int64 {
	out := map[string]int64{}
	for i := 0; i < n; i++ {
		out[fmt.Sprintf("web-%d", i)] = milli
	}
	return out
}

func hasEvent(events []string, prefix string) bool {
	for _, e := range events {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

func mustSelector(t *testing.T) labels.Selector {
	t.Helper()
	sel, err := labels.Parse("app=web")
	if err != nil {
		t.Fatal(err)
	}
	return sel
}
