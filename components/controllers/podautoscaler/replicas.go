package podautoscaler

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// Upstream's defaults for the replica calculation.
const (
	// defaultTolerance: changes of less than 10% are not worth a scale
	// (--horizontal-pod-autoscaler-tolerance).
	defaultTolerance = 0.1
	// cpuInitializationPeriod: a pod this young may still burn start-up CPU
	// (--horizontal-pod-autoscaler-cpu-initialization-period, 5m).
	cpuInitializationPeriod = 5 * time.Minute
	// initialReadinessDelay: a pod not ready this soon after start counts
	// as never-ready (--horizontal-pod-autoscaler-initial-readiness-delay, 30s).
	initialReadinessDelay = 30 * time.Second
)

// tolerance is the band around ratio 1.0 in which nothing changes.
type tolerance struct{ down, up float64 }

func (t tolerance) within(ratio float64) bool { return 1-t.down <= ratio && ratio <= 1+t.up }

// calculator turns pod usage into a replica count, as upstream's
// ReplicaCalculator does.
type calculator struct {
	metrics MetricsClient
	pods    corelisters.PodLister
	now     func() time.Time
}

// utilization is the result for one resource: the proposal, the average
// utilization in percent of requests (for Utilization targets), and the
// average raw usage in milli-units.
type utilization struct {
	replicas int32
	percent  int32
	raw      int64
}

// resourceReplicas proposes replicas for a Utilization target: keep the
// pods' average usage at target percent of their requests.
func (c *calculator) resourceReplicas(ctx context.Context, current, target int32, res corev1.ResourceName, tol tolerance, ns string, sel labels.Selector) (utilization, time.Time, error) {
	metrics, ts, err := c.metrics.PodResources(ctx, ns, sel, res)
	if err != nil {
		return utilization{}, time.Time{}, fmt.Errorf("unable to get metrics for resource %s: %w", res, err)
	}
	pods, err := c.listPods(ns, sel)
	if err != nil {
		return utilization{}, time.Time{}, err
	}
	ready, unready, missing, ignored := c.groupPods(pods, metrics, res)
	drop(metrics, ignored)
	drop(metrics, unready)
	if len(metrics) == 0 {
		return utilization{}, time.Time{}, errors.New("did not receive metrics for targeted pods (pods might be unready)")
	}
	requests, err := podRequests(pods, res)
	if err != nil {
		return utilization{}, time.Time{}, err
	}
	ratio, percent, raw, err := utilizationRatio(metrics, requests, target)
	if err != nil {
		return utilization{}, time.Time{}, err
	}
	out := utilization{replicas: current, percent: percent, raw: raw}

	scaleUpWithUnready := len(unready) > 0 && ratio > 1.0
	if !scaleUpWithUnready && len(missing) == 0 {
		if !tol.within(ratio) {
			out.replicas = int32(math.Ceil(ratio * float64(ready)))
		}
		return out, ts, nil
	}
	// Be conservative about pods we know nothing of: on a scale-down assume
	// missing pods use their whole request (or the target, if above 100%),
	// on a scale-up assume they and unready pods use nothing.
	for name := range missing {
		if ratio < 1.0 {
			metrics[name] = PodMetric{Value: requests[name] * int64(max(100, target)) / 100}
		} else if ratio > 1.0 {
			metrics[name] = PodMetric{}
		}
	}
	if scaleUpWithUnready {
		for name := range unready {
			metrics[name] = PodMetric{}
		}
	}
	newRatio, _, _, err := utilizationRatio(metrics, requests, target)
	if err != nil {
		return utilization{}, time.Time{}, err
	}
	out.replicas = settle(current, ratio, newRatio, len(metrics), tol)
	return out, ts, nil
}

// rawReplicas proposes replicas for an AverageValue target (milli-units
// per pod), requests play no part.
func (c *calculator) rawReplicas(ctx context.Context, current int32, target int64, res corev1.ResourceName, tol tolerance, ns string, sel labels.Selector) (utilization, time.Time, error) {
	metrics, ts, err := c.metrics.PodResources(ctx, ns, sel, res)
	if err != nil {
		return utilization{}, time.Time{}, fmt.Errorf("unable to get metrics for resource %s: %w", res, err)
	}
	pods, err := c.listPods(ns, sel)
	if err != nil {
		return utilization{}, time.Time{}, err
	}
	ready, unready, missing, ignored := c.groupPods(pods, metrics, res)
	drop(metrics, ignored)
	drop(metrics, unready)
	if len(metrics) == 0 {
		return utilization{}, time.Time{}, errors.New("did not receive metrics for targeted pods (pods might be unready)")
	}
	ratio, usage := usageRatio(metrics, target)
	out := utilization{replicas: current, raw: usage}
	scaleUpWithUnready := len(unready) > 0 && ratio > 1.0
	if !scaleUpWithUnready && len(missing) == 0 {
		if !tol.within(ratio) {
			out.replicas = int32(math.Ceil(ratio * float64(ready)))
		}
		return out, ts, nil
	}
	for name := range missing {
		if ratio < 1.0 {
			metrics[name] = PodMetric{Value: target}
		} else {
			metrics[name] = PodMetric{}
		}
	}
	if scaleUpWithUnready {
		for name := range unready {
			metrics[name] = PodMetric{}
		}
	}
	newRatio, _ := usageRatio(metrics, target)
	out.replicas = settle(current, ratio, newRatio, len(metrics), tol)
	return out, ts, nil
}

// settle: after filling in guesses, scale only if the change is still
// worth it and still points the same way as the measured ratio.
func settle(current int32, ratio, newRatio float64, pods int, tol tolerance) int32 {
	if tol.within(newRatio) || (ratio < 1.0 && newRatio > 1.0) || (ratio > 1.0 && newRatio < 1.0) {
		return current
	}
	n := int32(math.Ceil(newRatio * float64(pods)))
	if (newRatio < 1.0 && n > current) || (newRatio > 1.0 && n < current) {
		return current
	}
	return n
}

func (c *calculator) listPods(ns string, sel labels.Selector) ([]*corev1.Pod, error) {
	pods, err := c.pods.Pods(ns).List(sel)
	if err != nil {
		return nil, fmt.Errorf("unable to get pods while calculating replica count: %w", err)
	}
	if len(pods) == 0 {
		return nil, errors.New("no pods returned by selector while calculating replica count")
	}
	return pods, nil
}

// groupPods sorts pods into ready (counted), unready (pending, or for cpu
// still starting up), missing (no metric) and ignored (deleted or failed).
func (c *calculator) groupPods(pods []*corev1.Pod, metrics map[string]PodMetric, res corev1.ResourceName) (ready int, unready, missing, ignored sets.Set[string]) {
	unready, missing, ignored = sets.New[string](), sets.New[string](), sets.New[string]()
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodFailed {
			ignored.Insert(pod.Name)
			continue
		}
		if pod.Status.Phase == corev1.PodPending {
			unready.Insert(pod.Name)
			continue
		}
		metric, ok := metrics[pod.Name]
		if !ok {
			missing.Insert(pod.Name)
			continue
		}
		if res == corev1.ResourceCPU && c.cpuUnready(pod, metric) {
			unready.Insert(pod.Name)
			continue
		}
		ready++
	}
	return ready, unready, missing, ignored
}

// cpuUnready: a starting pod's CPU sample is not trusted until it is ready
// and a whole metric window passed since; a pod that never became ready
// does not count either.
func (c *calculator) cpuUnready(pod *corev1.Pod, m PodMetric) bool {
	var cond *corev1.PodCondition
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			cond = &pod.Status.Conditions[i]
		}
	}
	if cond == nil || pod.Status.StartTime == nil {
		return true
	}
	if pod.Status.StartTime.Add(cpuInitializationPeriod).After(c.now()) {
		return cond.Status == corev1.ConditionFalse || m.Timestamp.Before(cond.LastTransitionTime.Add(m.Window))
	}
	return cond.Status == corev1.ConditionFalse && pod.Status.StartTime.Add(initialReadinessDelay).After(cond.LastTransitionTime.Time)
}

// podRequests sums each pod's container requests for res, in milli-units.
func podRequests(pods []*corev1.Pod, res corev1.ResourceName) (map[string]int64, error) {
	out := make(map[string]int64, len(pods))
	for _, pod := range pods {
		sum := int64(0)
		for _, c := range pod.Spec.Containers {
			req, ok := c.Resources.Requests[res]
			if !ok {
				return nil, fmt.Errorf("missing request for %s in container %s of Pod %s", res, c.Name, pod.Name)
			}
			sum += req.MilliValue()
		}
		out[pod.Name] = sum
	}
	return out, nil
}

// utilizationRatio: total usage over total requests, in percent, compared
// with the target percentage.
func utilizationRatio(metrics map[string]PodMetric, requests map[string]int64, target int32) (ratio float64, percent int32, raw int64, err error) {
	var used, requested int64
	n := 0
	for name, m := range metrics {
		req, ok := requests[name]
		if !ok {
			continue // a metric for a pod we do not target
		}
		used += m.Value
		requested += req
		n++
	}
	if requested == 0 {
		return 0, 0, 0, errors.New("no metrics returned matched known pods")
	}
	percent = int32(used * 100 / requested)
	return float64(percent) / float64(target), percent, used / int64(n), nil
}

// usageRatio: average usage per pod over the target average.
func usageRatio(metrics map[string]PodMetric, target int64) (float64, int64) {
	total := int64(0)
	for _, m := range metrics {
		total += m.Value
	}
	avg := total / int64(len(metrics))
	return float64(avg) / float64(target), avg
}

func drop(metrics map[string]PodMetric, names sets.Set[string]) {
	for name := range names {
		delete(metrics, name)
	}
}
