package podautoscaler

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
)

// PodMetric is one pod's usage of one resource, in milli-units
// (millicores for cpu, milli-bytes for memory, like resource.MilliValue),
// measured over Window ending at Timestamp.
type PodMetric struct {
	Timestamp time.Time
	Window    time.Duration
	Value     int64
}

// MetricsClient is where the autoscaler reads pod usage: the seam between
// the control loop and whatever measures the pods. The real one asks the
// resource metrics API (metrics.k8s.io, served by metrics-server from the
// kubelets' numbers); tests use a fake.
type MetricsClient interface {
	// PodResources returns the usage of resource by each pod (by name) the
	// selector matches in namespace, and when it was measured. A pod with a
	// container missing the resource is left out.
	PodResources(ctx context.Context, namespace string, selector labels.Selector, resource corev1.ResourceName) (map[string]PodMetric, time.Time, error)
}

// resourceMetrics reads PodMetrics from metrics.k8s.io/v1beta1.
type resourceMetrics struct {
	client metricsclient.PodMetricsesGetter
}

// NewResourceMetricsClient reads pod usage from the resource metrics API.
func NewResourceMetricsClient(client metricsclient.PodMetricsesGetter) MetricsClient {
	return &resourceMetrics{client: client}
}

func (m *resourceMetrics) PodResources(ctx context.Context, namespace string, selector labels.Selector, resource corev1.ResourceName) (map[string]PodMetric, time.Time, error) {
	list, err := m.client.PodMetricses(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		// The wording is upstream's, so `kubectl describe hpa` reads the same
		// as on any cluster without metrics-server.
		return nil, time.Time{}, fmt.Errorf("unable to fetch metrics from resource metrics API: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, time.Time{}, errors.New("no metrics returned from resource metrics API")
	}
	out := make(map[string]PodMetric, len(list.Items))
	for _, pm := range list.Items {
		sum, missing := int64(0), len(pm.Containers) == 0
		for _, c := range pm.Containers {
			v, ok := c.Usage[resource]
			if !ok {
				missing = true
				break
			}
			sum += v.MilliValue()
		}
		if !missing {
			out[pm.Name] = PodMetric{Timestamp: pm.Timestamp.Time, Window: pm.Window.Duration, Value: sum}
		}
	}
	return out, list.Items[0].Timestamp.Time, nil
}
