package podautoscaler

import (
	"context"
	"errors"
	"fmt"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// sync evaluates one HPA, like upstream's reconcileAutoscaler. It reports
// whether the HPA is gone (then it is not requeued).
func (c *Controller) sync(ctx context.Context, key string) (bool, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return true, nil
	}
	shared, err := c.hpas.HorizontalPodAutoscalers(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.history.forget(key)
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("get hpa %s from cache: %w", key, err)
	}
	hpa := shared.DeepCopy()
	original := hpa.Status.DeepCopy()
	now := c.now()
	ref := hpa.Spec.ScaleTargetRef
	reference := fmt.Sprintf("%s/%s/%s", ref.Kind, hpa.Namespace, ref.Name)

	sc, gr, err := c.getScale(ctx, hpa)
	if err != nil {
		c.recorder.Event(hpa, corev1.EventTypeWarning, "FailedGetScale", err.Error())
		setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedGetScale", "the HPA controller was unable to get the target's current scale: "+err.Error(), now)
		return false, errors.Join(err, c.updateStatus(ctx, original, hpa))
	}
	setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale", "the HPA controller was able to get the target's current scale", now)
	current := sc.Spec.Replicas
	c.history.recordInitial(key, current, now)

	minR := ptr.Deref(hpa.Spec.MinReplicas, 1)
	var statuses []autoscalingv2.MetricStatus
	desired, reason, rescale := int32(0), "", true
	var metricsErr error
	switch {
	case current == 0 && minR != 0:
		// Someone scaled the target to zero: autoscaling is off until they
		// scale it up again (upstream's idiom for pausing an HPA).
		rescale = false
		setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero", now)
	case current > hpa.Spec.MaxReplicas:
		reason, desired = "Current number of replicas above Spec.MaxReplicas", hpa.Spec.MaxReplicas
	case current < minR:
		reason, desired = "Current number of replicas below Spec.MinReplicas", minR
	default:
		proposal, metric, st, err := c.computeReplicas(ctx, hpa, sc)
		statuses = st
		if err != nil && proposal == -1 {
			setStatus(hpa, current, hpa.Status.DesiredReplicas, statuses, false, now)
			c.recorder.Event(hpa, corev1.EventTypeWarning, "FailedComputeMetricsReplicas", err.Error())
			return false, errors.Join(fmt.Errorf("failed to compute desired number of replicas based on listed metrics for %s: %w", reference, err),
				c.updateStatus(ctx, original, hpa))
		}
		metricsErr = err // some metrics worked: scale on them, report the rest
		desired = proposal
		switch {
		case desired > current:
			reason = metric + " above target"
		case desired < current:
			reason = "All metrics below target"
		}
		desired = c.normalize(hpa, key, current, desired, minR)
		rescale = desired != current
	}

	if rescale {
		sc.Spec.Replicas = desired
		if _, err := c.scales.Scales(hpa.Namespace).Update(ctx, gr, sc, metav1.UpdateOptions{}); err != nil {
			c.recorder.Eventf(hpa, corev1.EventTypeWarning, "FailedRescale", "New size: %d; reason: %s; error: %v", desired, reason, err)
			setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedUpdateScale", "the HPA controller was unable to update the target scale: "+err.Error(), now)
			setStatus(hpa, current, hpa.Status.DesiredReplicas, statuses, false, now)
			return false, errors.Join(fmt.Errorf("failed to rescale %s: %w", reference, err), c.updateStatus(ctx, original, hpa))
		}
		setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale", fmt.Sprintf("the HPA controller was able to update the target scale to %d", desired), now)
		c.recorder.Eventf(hpa, corev1.EventTypeNormal, "SuccessfulRescale", "New size: %d; reason: %s", desired, reason)
		c.history.recordScale(key, hpa.Spec.Behavior, current, desired, now)
	} else {
		desired = current
	}
	setStatus(hpa, current, desired, statuses, rescale, now)
	return false, errors.Join(metricsErr, c.updateStatus(ctx, original, hpa))
}

// getScale reads the target's /scale, trying each resource its kind maps
// to (a kind may be served by several group versions).
func (c *Controller) getScale(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler) (*autoscalingv1.Scale, schema.GroupResource, error) {
	ref := hpa.Spec.ScaleTargetRef
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil, schema.GroupResource{}, fmt.Errorf("invalid API version in scale target reference: %w", err)
	}
	mappings, err := c.mapper.RESTMappings(schema.GroupKind{Group: gv.Group, Kind: ref.Kind})
	if err != nil {
		return nil, schema.GroupResource{}, fmt.Errorf("unable to determine resource for scale target reference: %w", err)
	}
	var firstErr error
	for _, m := range mappings {
		gr := m.Resource.GroupResource()
		sc, err := c.scales.Scales(hpa.Namespace).Get(ctx, gr, ref.Name, metav1.GetOptions{})
		if err == nil {
			return sc, gr, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = errors.New("unrecognized resource")
	}
	return nil, schema.GroupResource{}, fmt.Errorf("failed to query scale subresource for %s/%s/%s: %w", ref.Kind, hpa.Namespace, ref.Name, firstErr)
}

// computeReplicas evaluates every metric and takes the largest proposal.
// It returns -1 when no metric could be evaluated (or when a failing one
// might have asked for more than the others).
func (c *Controller) computeReplicas(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler, sc *autoscalingv1.Scale) (int32, string, []autoscalingv2.MetricStatus, error) {
	now := c.now()
	if sc.Status.Selector == "" {
		c.recorder.Event(hpa, corev1.EventTypeWarning, "SelectorRequired", "selector is required")
		setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionFalse, "InvalidSelector", "the HPA target's scale is missing a selector", now)
		return -1, "", nil, errors.New("selector is required")
	}
	sel, err := labels.Parse(sc.Status.Selector)
	if err != nil {
		c.recorder.Event(hpa, corev1.EventTypeWarning, "InvalidSelector", err.Error())
		setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionFalse, "InvalidSelector", "the HPA target's scale has an invalid selector: "+err.Error(), now)
		return -1, "", nil, fmt.Errorf("parse selector %q: %w", sc.Status.Selector, err)
	}

	specs := hpa.Spec.Metrics
	statuses := make([]autoscalingv2.MetricStatus, len(specs))
	replicas, metric := int32(0), ""
	invalid := 0
	var firstErr error
	var firstCond autoscalingv2.HorizontalPodAutoscalerCondition
	for i, spec := range specs {
		proposal, name, cond, err := c.computeMetric(ctx, hpa, spec, sc.Spec.Replicas, sel, &statuses[i])
		if err != nil && spec.Type == autoscalingv2.ResourceMetricSourceType && spec.Resource != nil {
			err = fmt.Errorf("failed to get %s resource metric value: %w", spec.Resource.Name, err)
		}
		if err != nil {
			if invalid == 0 {
				firstErr, firstCond = err, cond
			}
			invalid++
			continue
		}
		if replicas == 0 || proposal > replicas {
			replicas, metric = proposal, name
		}
	}
	if invalid > 0 {
		err := fmt.Errorf("invalid metrics (%d invalid out of %d), first error is: %w", invalid, len(specs), firstErr)
		if invalid >= len(specs) || replicas < sc.Spec.Replicas {
			setCondition(hpa, firstCond.Type, firstCond.Status, firstCond.Reason, firstCond.Message, now)
			return -1, "", statuses, err
		}
		firstErr = err
	}
	setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound",
		fmt.Sprintf("the HPA was able to successfully calculate a replica count from %s", metric), now)
	return replicas, metric, statuses, firstErr
}

// computeMetric evaluates one metric spec and fills its status.
func (c *Controller) computeMetric(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler, spec autoscalingv2.MetricSpec, current int32, sel labels.Selector, status *autoscalingv2.MetricStatus) (int32, string, autoscalingv2.HorizontalPodAutoscalerCondition, error) {
	if spec.Type != autoscalingv2.ResourceMetricSourceType || spec.Resource == nil {
		// Custom (Pods, Object), external and per-container metrics need
		// adapters this cluster does not have. Say so instead of guessing.
		reason := map[autoscalingv2.MetricSourceType]string{
			autoscalingv2.PodsMetricSourceType: "FailedGetPodsMetric", autoscalingv2.ObjectMetricSourceType: "FailedGetObjectMetric",
			autoscalingv2.ExternalMetricSourceType: "FailedGetExternalMetric", autoscalingv2.ContainerResourceMetricSourceType: "FailedGetContainerResourceMetric",
		}[spec.Type]
		if reason == "" {
			reason = "InvalidMetricSourceType"
		}
		err := fmt.Errorf("metric type %q is not supported by this controller: only Resource metrics (cpu, memory) from metrics.k8s.io are", spec.Type)
		return 0, "", c.unableToCompute(hpa, reason, err), err
	}
	res, target := spec.Resource.Name, spec.Resource.Target
	tol := c.tolerances(hpa)
	if target.AverageValue != nil {
		u, _, err := c.calc.rawReplicas(ctx, current, target.AverageValue.MilliValue(), res, tol, hpa.Namespace, sel)
		if err != nil {
			err = fmt.Errorf("failed to get %s usage: %w", res, err)
			return 0, "", c.unableToCompute(hpa, "FailedGetResourceMetric", err), err
		}
		*status = autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
			Name: res, Current: autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(u.raw, resource.DecimalSI)}}}
		return u.replicas, fmt.Sprintf("%s resource", res), autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
	}
	if target.AverageUtilization == nil {
		err := errors.New("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set")
		return 0, "", c.unableToCompute(hpa, "FailedGetResourceMetric", err), err
	}
	u, _, err := c.calc.resourceReplicas(ctx, current, *target.AverageUtilization, res, tol, hpa.Namespace, sel)
	if err != nil {
		err = fmt.Errorf("failed to get %s utilization: %w", res, err)
		return 0, "", c.unableToCompute(hpa, "FailedGetResourceMetric", err), err
	}
	*status = autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
		Name: res, Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr.To(u.percent), AverageValue: resource.NewMilliQuantity(u.raw, resource.DecimalSI)}}}
	return u.replicas, fmt.Sprintf("%s resource utilization (percentage of request)", res), autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
}

// unableToCompute records the failure as an event and returns the
// ScalingActive=False condition that explains it.
func (c *Controller) unableToCompute(hpa *autoscalingv2.HorizontalPodAutoscaler, reason string, err error) autoscalingv2.HorizontalPodAutoscalerCondition {
	c.recorder.Event(hpa, corev1.EventTypeWarning, reason, err.Error())
	return autoscalingv2.HorizontalPodAutoscalerCondition{Type: autoscalingv2.ScalingActive, Status: corev1.ConditionFalse, Reason: reason,
		Message: "the HPA was unable to compute the replica count: " + err.Error()}
}

// tolerances: the controller's, unless behavior sets its own per direction.
func (c *Controller) tolerances(hpa *autoscalingv2.HorizontalPodAutoscaler) tolerance {
	t := tolerance{down: c.tolerance, up: c.tolerance}
	if b := hpa.Spec.Behavior; b != nil {
		if b.ScaleDown != nil && b.ScaleDown.Tolerance != nil {
			t.down = b.ScaleDown.Tolerance.AsApproximateFloat64()
		}
		if b.ScaleUp != nil && b.ScaleUp.Tolerance != nil {
			t.up = b.ScaleUp.Tolerance.AsApproximateFloat64()
		}
	}
	return t
}

func setStatus(hpa *autoscalingv2.HorizontalPodAutoscaler, current, desired int32, metrics []autoscalingv2.MetricStatus, rescaled bool, now time.Time) {
	hpa.Status.CurrentReplicas = current
	hpa.Status.DesiredReplicas = desired
	hpa.Status.CurrentMetrics = metrics
	if rescaled {
		hpa.Status.LastScaleTime = ptr.To(metav1.NewTime(now))
	}
}

// updateStatus writes the status if it changed.
func (c *Controller) updateStatus(ctx context.Context, original *autoscalingv2.HorizontalPodAutoscalerStatus, hpa *autoscalingv2.HorizontalPodAutoscaler) error {
	if apiequality.Semantic.DeepEqual(original, &hpa.Status) {
		return nil
	}
	if _, err := c.kube.AutoscalingV2().HorizontalPodAutoscalers(hpa.Namespace).UpdateStatus(ctx, hpa, metav1.UpdateOptions{}); err != nil {
		c.recorder.Event(hpa, corev1.EventTypeWarning, "FailedUpdateStatus", err.Error())
		return fmt.Errorf("update status of hpa %s/%s: %w", hpa.Namespace, hpa.Name, err)
	}
	return nil
}

// setCondition sets a condition, keeping its transition time unless the
// status changed.
func setCondition(hpa *autoscalingv2.HorizontalPodAutoscaler, typ autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason, message string, now time.Time) {
	for i := range hpa.Status.Conditions {
		c := &hpa.Status.Conditions[i]
		if c.Type != typ {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = metav1.NewTime(now)
		}
		c.Status, c.Reason, c.Message = status, reason, message
		return
	}
	hpa.Status.Conditions = append(hpa.Status.Conditions, autoscalingv2.HorizontalPodAutoscalerCondition{
		Type: typ, Status: status, Reason: reason, Message: message, LastTransitionTime: metav1.NewTime(now)})
}
