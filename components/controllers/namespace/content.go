package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// contentReport is what one pass over a namespace's content found.
type contentReport struct {
	discoveryErr error                                 // some API groups could not be listed
	deleteErrs   map[schema.GroupVersionResource]error // resource types that failed
	remaining    map[schema.GroupResource]int          // objects still there, per type
	finalizers   map[string]int                        // finalizers holding them, per name
	estimate     time.Duration                         // longest graceful deletion still running
}

// deleteContent deletes everything in namespace ns, of every namespaced
// resource type the server offers, then lists again to see what is left.
func (c *Controller) deleteContent(ctx context.Context, ns string) *contentReport {
	r := &contentReport{
		deleteErrs: map[schema.GroupVersionResource]error{},
		remaining:  map[schema.GroupResource]int{},
		finalizers: map[string]int{},
	}
	// Discovery, not a fixed list: custom resources live in namespaces too.
	// A failing group (an unreachable aggregated API) still gives us the
	// others, so go on with what we have and report the failure.
	lists, err := discovery.ServerPreferredNamespacedResources(c.discovery)
	if err != nil {
		r.discoveryErr = err
	}
	for _, res := range deletable(lists) {
		if err := c.deleteResource(ctx, ns, res); err != nil {
			r.deleteErrs[res.gvr] = err
			continue
		}
		if err := c.countRemaining(ctx, ns, res.gvr, r); err != nil {
			r.deleteErrs[res.gvr] = err
		}
	}
	return r
}

// resource is one type of namespaced object and how it can be deleted.
type resource struct {
	gvr        schema.GroupVersionResource
	collection bool // supports deletecollection: one call for all objects
}

// deletable keeps the resources we can list and delete one way or the other.
func deletable(lists []*metav1.APIResourceList) []resource {
	var out []resource
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			verbs := r.Verbs
			if !slices.Contains(verbs, "list") {
				continue
			}
			collection := slices.Contains(verbs, "deletecollection")
			if !collection && !slices.Contains(verbs, "delete") {
				continue
			}
			out = append(out, resource{gvr: gv.WithResource(r.Name), collection: collection})
		}
	}
	// A stable order makes logs and tests readable; correctness does not
	// depend on it (we simply loop until everything is gone).
	sort.Slice(out, func(i, j int) bool { return out[i].gvr.String() < out[j].gvr.String() })
	return out
}

// background is the propagation policy for everything we delete: objects go
// at once and the garbage collector removes their dependents (in this
// namespace we delete those too, whichever comes first).
var background = metav1.DeletePropagationBackground

// deleteResource deletes all objects of one type in the namespace.
func (c *Controller) deleteResource(ctx context.Context, ns string, res resource) error {
	client := c.dynamic.Resource(res.gvr).Namespace(ns)
	opts := metav1.DeleteOptions{PropagationPolicy: &background}
	if res.collection {
		err := client.DeleteCollection(ctx, opts, metav1.ListOptions{})
		if ignorable(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("delete collection of %s in %s: %w", res.gvr.Resource, ns, err)
		}
		return nil
	}
	list, err := client.List(ctx, metav1.ListOptions{})
	if ignorable(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s in %s: %w", res.gvr.Resource, ns, err)
	}
	for _, item := range list.Items {
		if item.GetDeletionTimestamp() != nil {
			continue // already on its way out
		}
		if err := client.Delete(ctx, item.GetName(), opts); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s %s/%s: %w", res.gvr.Resource, ns, item.GetName(), err)
		}
	}
	return nil
}

// countRemaining lists one type again and records what is still there,
// which finalizers hold it, and how long graceful deletions still need.
func (c *Controller) countRemaining(ctx context.Context, ns string, gvr schema.GroupVersionResource, r *contentReport) error {
	list, err := c.dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
	if ignorable(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s in %s: %w", gvr.Resource, ns, err)
	}
	if len(list.Items) == 0 {
		return nil
	}
	r.remaining[gvr.GroupResource()] += len(list.Items)
	for _, item := range list.Items {
		for _, f := range item.GetFinalizers() {
			r.finalizers[f]++
		}
		// A pod on a node gets a deletionTimestamp in the future: the end of
		// its grace period, when the kubelet will have removed it.
		if dt := item.GetDeletionTimestamp(); dt != nil {
			if left := dt.Sub(c.now()); left > r.estimate {
				r.estimate = left
			}
		}
	}
	slog.Debug("namespace content remaining", "namespace", ns, "resource", gvr.Resource, "count", len(list.Items))
	return nil
}

// ignorable errors mean "nothing to delete here": the type vanished since
// discovery (a CRD deleted), or the server does not support the verb.
func ignorable(err error) bool {
	return apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err)
}

// err folds the failures into one error (nil when all went well).
func (r *contentReport) err() error {
	var errs []error
	if r.discoveryErr != nil {
		errs = append(errs, fmt.Errorf("discovery: %w", r.discoveryErr))
	}
	for _, gvr := range sortedGVRs(r.deleteErrs) {
		errs = append(errs, r.deleteErrs[gvr])
	}
	return errors.Join(errs...)
}

func (r *contentReport) remainingCount() int {
	n := 0
	for _, count := range r.remaining {
		n += count
	}
	return n
}

func sortedGVRs(m map[schema.GroupVersionResource]error) []schema.GroupVersionResource {
	out := make([]schema.GroupVersionResource, 0, len(m))
	for gvr := range m {
		out = append(out, gvr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
