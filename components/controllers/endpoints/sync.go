package endpoints

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/kubelab/kubelab/components/controllers/endpoints/membership"
)

// sync makes the Endpoints of one service ("namespace/name") match its pods.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("split key %q: %w", key, err)
	}
	svc, err := c.services.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		// The service is gone, so are its endpoints. (Endpoints carry no
		// ownerReference, upstream never set one: we delete them here.)
		c.triggers.Forget(namespace, name)
		err := c.kube.CoreV1().Endpoints(namespace).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete endpoints %s: %w", key, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("get service %s: %w", key, err)
	}
	// ExternalName services are DNS aliases; selectorless ones have
	// endpoints written by hand. Neither is ours to fill.
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Selector == nil {
		return nil
	}

	pods, err := c.pods.Pods(namespace).List(labels.Set(svc.Spec.Selector).AsSelectorPreValidated())
	if err != nil {
		return fmt.Errorf("list pods for service %s: %w", key, err)
	}
	// Computed on every sync, even one that writes nothing, so the tracker
	// remembers what it has seen.
	trigger := c.triggers.Compute(svc, pods)

	current, err := c.endpoints.Endpoints(namespace).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("get endpoints %s: %w", key, err)
	}
	want, changed := desired(svc, current, subsets(svc, pods), trigger)
	if !changed {
		return nil // the common case: a pod event that changed nothing we show
	}

	ready, notReady := countAddresses(want.Subsets)
	if current == nil {
		slog.Debug("creating endpoints", "service", key, "ready", ready, "notReady", notReady)
		_, err = c.kube.CoreV1().Endpoints(namespace).Create(ctx, want, metav1.CreateOptions{})
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // the namespace is going away: creating will never work
		}
		if err != nil {
			if !transient(err) {
				c.recorder.Eventf(want, corev1.EventTypeWarning, "FailedToCreateEndpoint",
					"Failed to create endpoint for service %s: %v", key, err)
			}
			return fmt.Errorf("create endpoints %s: %w", key, err)
		}
		return nil
	}
	slog.Debug("updating endpoints", "service", key, "ready", ready, "notReady", notReady)
	if _, err = c.kube.CoreV1().Endpoints(namespace).Update(ctx, want, metav1.UpdateOptions{}); err != nil {
		if !transient(err) {
			c.recorder.Eventf(want, corev1.EventTypeWarning, "FailedToUpdateEndpoint",
				"Failed to update endpoint %s: %v", key, err)
		}
		return fmt.Errorf("update endpoints %s: %w", key, err)
	}
	return nil
}

// transient errors mean our cache was behind our own last write (the
// Endpoints exists already, or has a newer version): the retry after the
// informer caught up succeeds, so they are not worth an Event.
func transient(err error) bool {
	return apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err)
}

// desired builds the Endpoints to write (a copy of current, or a new one
// when current is nil) and reports whether it differs from current in what
// we own: subsets, labels, the over-capacity annotation. A change of the
// trigger time alone is no reason to write.
func desired(svc *corev1.Service, current *corev1.Endpoints, subsets []corev1.EndpointSubset, trigger time.Time) (*corev1.Endpoints, bool) {
	wantLabels := maps.Clone(svc.Labels)
	if wantLabels == nil {
		wantLabels = map[string]string{}
	}
	if membership.Headless(svc) {
		wantLabels[corev1.IsHeadlessService] = "" // DNS answers with the pod addresses
	} else {
		delete(wantLabels, corev1.IsHeadlessService)
	}
	wantLabels[LabelManagedBy] = ControllerName
	// Cut before comparing (upstream compares the uncut list, and so
	// rewrites an over-capacity Endpoints on every pod event).
	truncated := truncate(subsets)

	var want *corev1.Endpoints
	if current == nil {
		want = &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace}}
	} else {
		_, marked := current.Annotations[corev1.EndpointsOverCapacity]
		if apiequality.Semantic.DeepEqual(current.Subsets, subsets) &&
			apiequality.Semantic.DeepEqual(current.Labels, wantLabels) && marked == truncated {
			return current, false
		}
		want = current.DeepCopy()
	}
	want.Subsets = subsets
	want.Labels = wantLabels
	if want.Annotations == nil {
		want.Annotations = map[string]string{}
	}
	if trigger.IsZero() {
		delete(want.Annotations, corev1.EndpointsLastChangeTriggerTime)
	} else {
		want.Annotations[corev1.EndpointsLastChangeTriggerTime] = trigger.UTC().Format(time.RFC3339Nano)
	}
	if truncated {
		want.Annotations[corev1.EndpointsOverCapacity] = "truncated"
	} else {
		delete(want.Annotations, corev1.EndpointsOverCapacity)
	}
	return want, true
}
