package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	discoveryclient "k8s.io/client-go/kubernetes/typed/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// staleCacheError says the slice cache does not show our last writes yet.
type staleCacheError struct{ service string }

func (e *staleCacheError) Error() string {
	return fmt.Sprintf("endpointslice cache for service %s is behind our writes", e.service)
}

// sync makes the EndpointSlices of one service ("namespace/name") match its pods.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("split key %q: %w", key, err)
	}
	svc, err := c.services.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		// The slices are owned by the service: the garbage collector
		// deletes them with it.
		c.triggers.Forget(namespace, name)
		c.expected.forget(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get service %s: %w", key, err)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Selector == nil {
		return nil // a DNS alias, or endpoints written by hand
	}

	cached, err := c.slices.EndpointSlices(namespace).List(labels.SelectorFromSet(labels.Set{
		discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: ControllerName}))
	if err != nil {
		return fmt.Errorf("list endpointslices of %s: %w", key, err)
	}
	if !c.expected.satisfied(key, cached) {
		return &staleCacheError{service: key}
	}
	var existing []*discoveryv1.EndpointSlice
	for _, s := range cached {
		if s.DeletionTimestamp == nil { // going anyway: neither count nor touch it
			existing = append(existing, s)
		}
	}
	pods, err := c.pods.Pods(namespace).List(labels.Set(svc.Spec.Selector).AsSelectorPreValidated())
	if err != nil {
		return fmt.Errorf("list pods for service %s: %w", key, err)
	}
	trigger := c.triggers.Compute(svc, pods)

	p := reconcile(serviceTarget(svc, c.maxPerSlice), existing, desired(svc, pods, c.nodes))
	if p.empty() {
		return nil
	}
	if err := apply(ctx, c.kube.DiscoveryV1().EndpointSlices(namespace), c.expected, key, p, trigger); err != nil {
		c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToUpdateEndpointSlices",
			"Error updating Endpoint Slices for Service %s: %v", key, err)
		return err
	}
	return nil
}

// apply writes a plan for the slices of key: creates first, then updates,
// then deletes, so a moving endpoint is never missing from every slice in
// between. The writes made are remembered in expected.
func apply(ctx context.Context, client discoveryclient.EndpointSliceInterface, expected *expectations, key string, p plan, trigger time.Time) error {
	var created, deleted []*discoveryv1.EndpointSlice
	updated := map[string]string{}
	// Whatever got written is expected, even if a later write failed.
	defer func() { expected.expect(key, created, deleted, updated) }()

	for _, s := range p.create {
		annotate(s, trigger)
		out, err := client.Create(ctx, s, metav1.CreateOptions{})
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // the namespace is going away, and the slices with it
		}
		if err != nil {
			return fmt.Errorf("create endpointslice for %s: %w", key, err)
		}
		created = append(created, out)
	}
	for _, s := range p.update {
		annotate(s, trigger)
		if _, err := client.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update endpointslice %s/%s: %w", s.Namespace, s.Name, err)
		}
		updated[s.Name] = s.ResourceVersion // the version the cache must move past
	}
	var errs []error
	for _, s := range p.delete {
		err := client.Delete(ctx, s.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete endpointslice %s/%s: %w", s.Namespace, s.Name, err))
			continue
		}
		deleted = append(deleted, s)
	}
	slog.Debug("endpointslices synced", "service", key, "created", len(created), "updated", len(updated), "deleted", len(deleted))
	return errors.Join(errs...)
}

func annotate(s *discoveryv1.EndpointSlice, trigger time.Time) {
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	if trigger.IsZero() {
		delete(s.Annotations, corev1.EndpointsLastChangeTriggerTime)
	} else {
		s.Annotations[corev1.EndpointsLastChangeTriggerTime] = trigger.UTC().Format(time.RFC3339Nano)
	}
}
