package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
)

// sync performs one task. An error sends the task back with back-off.
func (gc *Controller) sync(ctx context.Context, t task) error {
	n, ok := gc.graph.get(t.uid)
	if !ok {
		return nil // gone from the graph: its deletion already queued its dependents
	}
	if t.action == actionOrphan {
		return gc.attemptToOrphan(ctx, n)
	}
	return gc.attemptToDelete(ctx, n)
}

// attemptToDelete decides, from the live state, what to do with an object:
//
//	virtual node      does it exist? if not, tell the graph (dependents get a look)
//	foreground owner  dependents still blocking? look at them; none? remove the finalizer
//	dependent         all owners gone          → delete it
//	                  owners being deleted in the foreground → delete it (foreground
//	                                             if it has dependents of its own)
//	                  some owner alive         → keep it, drop references to the others
func (gc *Controller) attemptToDelete(ctx context.Context, n snapshot) error {
	latest, err := gc.getLive(ctx, n.ref)
	if apierrors.IsNotFound(err) {
		if n.virtual {
			gc.graphChanges.Add(&change{kind: changeDeleted, ref: n.ref, virtual: true})
		}
		return nil // an observed object: its informer will report the delete
	}
	if err != nil {
		return err
	}
	if n.virtual {
		return nil // it exists after all; its informer will show it to us
	}

	deleting := latest.DeletionTimestamp != nil
	if deleting && slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents) {
		return gc.processDeletingDependents(ctx, n, latest)
	}
	if deleting || len(latest.OwnerReferences) == 0 {
		return nil // already going, or nobody's dependent
	}

	solid, dangling, waiting, err := gc.classifyOwners(ctx, latest)
	if err != nil {
		return err
	}
	switch {
	case len(solid) > 0:
		if len(dangling)+len(waiting) == 0 {
			return nil
		}
		// One live owner is enough to keep the object. References to gone
		// owners are dropped, and so are those to owners waiting in the
		// foreground, who would otherwise wait for this object forever.
		slog.Info("garbage collector: removing references to gone owners", "object", n.ref.String())
		return gc.patchOwnerRefs(ctx, n.ref, latest, append(dangling, waiting...))
	case len(waiting) > 0 && len(n.dependents) > 0:
		// An owner waits for us in the foreground: we go in the foreground
		// too, so our own dependents are gone before us, and before it.
		return gc.deleteObject(ctx, n.ref, latest, metav1.DeletePropagationForeground)
	default:
		policy := metav1.DeletePropagationBackground
		if slices.Contains(latest.Finalizers, metav1.FinalizerOrphanDependents) {
			policy = metav1.DeletePropagationOrphan // asked for in advance
		} else if slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents) {
			policy = metav1.DeletePropagationForeground
		}
		return gc.deleteObject(ctx, n.ref, latest, policy)
	}
}

// processDeletingDependents handles an owner deleted in the foreground: it
// stays until no dependent blocks it (blockOwnerDeletion: true); dependents
// that do not block are collected in the background once it is gone.
func (gc *Controller) processDeletingDependents(ctx context.Context, n snapshot, latest *metav1.PartialObjectMetadata) error {
	if len(n.blocking) == 0 {
		slog.Info("garbage collector: dependents gone, finishing foreground deletion", "object", n.ref.String())
		return gc.removeFinalizer(ctx, n.ref, latest, metav1.FinalizerDeleteDependents)
	}
	// Make sure each blocker is on its way; their deletions bring us back.
	for _, dep := range n.blocking {
		gc.attempts.Add(task{action: actionDelete, uid: dep.uid})
	}
	return nil
}

// attemptToOrphan handles an owner deleted with the Orphan policy: remove
// its ownerReference from every dependent, then the "orphan" finalizer.
func (gc *Controller) attemptToOrphan(ctx context.Context, n snapshot) error {
	owner, err := gc.getLive(ctx, n.ref)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if owner.DeletionTimestamp == nil || !slices.Contains(owner.Finalizers, metav1.FinalizerOrphanDependents) {
		return nil // already done
	}
	for _, dep := range n.dependents {
		latest, err := gc.getLive(ctx, dep)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		var refs []metav1.OwnerReference
		for _, r := range latest.OwnerReferences {
			if r.UID == owner.UID {
				refs = append(refs, r)
			}
		}
		if len(refs) == 0 {
			continue
		}
		if err := gc.patchOwnerRefs(ctx, dep, latest, refs); err != nil {
			return err
		}
	}
	slog.Info("garbage collector: dependents orphaned", "object", n.ref.String(), "dependents", len(n.dependents))
	return gc.removeFinalizer(ctx, n.ref, owner, metav1.FinalizerOrphanDependents)
}

// classifyOwners looks up each owner live and sorts them: solid (exists),
// dangling (gone, or replaced by a new object of the same name), waiting
// (being deleted in the foreground, waiting for its dependents).
func (gc *Controller) classifyOwners(ctx context.Context, obj *metav1.PartialObjectMetadata) (solid, dangling, waiting []metav1.OwnerReference, err error) {
	for _, ref := range obj.OwnerReferences {
		owner, err := gc.getLive(ctx, objectRef{apiVersion: ref.APIVersion, kind: ref.Kind, namespace: obj.Namespace, name: ref.Name, uid: ref.UID})
		switch {
		case apierrors.IsNotFound(err):
			dangling = append(dangling, ref)
		case err != nil:
			return nil, nil, nil, err
		case owner.UID != ref.UID:
			dangling = append(dangling, ref) // same name, a different object
		case owner.DeletionTimestamp != nil && slices.Contains(owner.Finalizers, metav1.FinalizerDeleteDependents):
			waiting = append(waiting, ref)
		default:
			solid = append(solid, ref)
		}
	}
	return solid, dangling, waiting, nil
}

// getLive GETs an object's metadata from the API server (not the cache).
// An object whose UID differs from ref's counts as not found: the one we
// knew is gone and another took its name.
func (gc *Controller) getLive(ctx context.Context, ref objectRef) (*metav1.PartialObjectMetadata, error) {
	client, err := gc.resourceClient(ref)
	if err != nil {
		return nil, err
	}
	obj, err := client.Get(ctx, ref.name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if obj.UID != ref.uid {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: ref.kind}, ref.name)
	}
	return obj, nil
}

// resourceClient finds the REST resource for ref's apiVersion and kind.
func (gc *Controller) resourceClient(ref objectRef) (metadata.ResourceInterface, error) {
	gv, err := schema.ParseGroupVersion(ref.apiVersion)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", ref, err)
	}
	mapping, err := gc.mapper.RESTMapping(gv.WithKind(ref.kind).GroupKind(), gv.Version)
	if err != nil {
		return nil, fmt.Errorf("find the resource for %s: %w", ref, err)
	}
	if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
		return gc.metadata.Resource(mapping.Resource), nil
	}
	if ref.namespace == "" {
		// A cluster-scoped object cannot be owned by a namespaced one:
		// upstream treats such an owner as absent, and so do we.
		return nil, apierrors.NewNotFound(mapping.Resource.GroupResource(), ref.name)
	}
	return gc.metadata.Resource(mapping.Resource).Namespace(ref.namespace), nil
}

// deleteObject deletes the object we looked at, and no other: the UID
// precondition fails if it was replaced meanwhile.
func (gc *Controller) deleteObject(ctx context.Context, ref objectRef, latest *metav1.PartialObjectMetadata, policy metav1.DeletionPropagation) error {
	client, err := gc.resourceClient(ref)
	if err != nil {
		return err
	}
	slog.Info("garbage collector: deleting object", "object", ref.String(), "propagationPolicy", policy)
	uid := latest.UID
	err = client.Delete(ctx, ref.name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &policy})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s: %w", ref, err)
	}
	return nil
}

// metadataPatch is a JSON merge patch of the two lists we edit. Naming the
// resourceVersion makes it conditional: if the object changed since we read
// it (someone added a finalizer, say), the server answers 409 Conflict and
// we retry on fresh data instead of overwriting their change.
type metadataPatch struct {
	Metadata struct {
		ResourceVersion string                   `json:"resourceVersion"`
		OwnerReferences *[]metav1.OwnerReference `json:"ownerReferences,omitempty"`
		Finalizers      *[]string                `json:"finalizers,omitempty"`
	} `json:"metadata"`
}

// patchOwnerRefs removes the given references from an object.
func (gc *Controller) patchOwnerRefs(ctx context.Context, ref objectRef, latest *metav1.PartialObjectMetadata, remove []metav1.OwnerReference) error {
	keep := []metav1.OwnerReference{}
	for _, r := range latest.OwnerReferences {
		if !slices.ContainsFunc(remove, func(x metav1.OwnerReference) bool { return x.UID == r.UID }) {
			keep = append(keep, r)
		}
	}
	var p metadataPatch
	p.Metadata.ResourceVersion = latest.ResourceVersion
	p.Metadata.OwnerReferences = &keep
	return gc.patch(ctx, ref, p)
}

// removeFinalizer removes one finalizer from an object. If it was the last
// one on an object being deleted, the API server deletes it.
func (gc *Controller) removeFinalizer(ctx context.Context, ref objectRef, latest *metav1.PartialObjectMetadata, finalizer string) error {
	keep := []string{}
	for _, f := range latest.Finalizers {
		if f != finalizer {
			keep = append(keep, f)
		}
	}
	var p metadataPatch
	p.Metadata.ResourceVersion = latest.ResourceVersion
	p.Metadata.Finalizers = &keep
	return gc.patch(ctx, ref, p)
}

func (gc *Controller) patch(ctx context.Context, ref objectRef, p metadataPatch) error {
	client, err := gc.resourceClient(ref)
	if err != nil {
		return err
	}
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = client.Patch(ctx, ref.name, types.MergePatchType, data, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("patch %s: %w", ref, err)
	}
	return nil
}
