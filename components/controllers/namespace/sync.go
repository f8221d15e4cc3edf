package namespace

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// sync brings one namespace closer to gone. It does nothing unless the
// namespace is being deleted and still carries our "kubernetes" finalizer.
//
// It returns a *contentRemainingError when objects are still on their way
// out: the worker then looks again after a while instead of backing off.
func (c *Controller) sync(ctx context.Context, name string) error {
	cached, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil // already gone: nothing to finish
	}
	if err != nil {
		return fmt.Errorf("read namespace %s from cache: %w", name, err)
	}
	if cached.DeletionTimestamp == nil {
		return nil // alive: not our business
	}

	// The cache may lag behind the API. Deleting content is not something
	// to do on a stale picture, so read the namespace itself fresh.
	ns, err := c.kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get namespace %s: %w", name, err)
	}
	if ns.DeletionTimestamp == nil || !hasFinalizer(ns, corev1.FinalizerKubernetes) {
		return nil // recreated, or already finalized by us
	}

	report := c.deleteContent(ctx, ns.Name)
	ns, err = c.updateConditions(ctx, ns, report.conditions())
	if err != nil {
		return err
	}
	if err := report.err(); err != nil {
		return err
	}
	if report.remainingCount() > 0 {
		return &contentRemainingError{namespace: name, estimate: report.estimate}
	}
	return c.finalize(ctx, ns)
}

// finalize removes "kubernetes" from spec.finalizers through the finalize
// subresource. With no finalizers left, the API server deletes the namespace.
func (c *Controller) finalize(ctx context.Context, ns *corev1.Namespace) error {
	out := ns.DeepCopy()
	out.Spec.Finalizers = nil
	for _, f := range ns.Spec.Finalizers {
		if f != corev1.FinalizerKubernetes {
			out.Spec.Finalizers = append(out.Spec.Finalizers, f)
		}
	}
	_, err := c.kube.CoreV1().Namespaces().Finalize(ctx, out, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finalize namespace %s: %w", ns.Name, err)
	}
	slog.Info("namespace emptied and finalized", "namespace", ns.Name)
	return nil
}

func hasFinalizer(ns *corev1.Namespace, f corev1.FinalizerName) bool {
	for _, x := range ns.Spec.Finalizers {
		if x == f {
			return true
		}
	}
	return false
}

// contentRemainingError says the namespace is not empty yet, and roughly
// how long the slowest remaining object (a pod in its grace period) needs.
type contentRemainingError struct {
	namespace string
	estimate  time.Duration
}

func (e *contentRemainingError) Error() string {
	return fmt.Sprintf("namespace %s: content remaining, estimate %s", e.namespace, e.estimate)
}

// retryAfter is when to look again: half the estimate plus a second, as
// upstream does, so a namespace of stopping pods is checked a few times.
func (e *contentRemainingError) retryAfter() time.Duration {
	return e.estimate/2 + time.Second
}
