// Package controllerref is the "controller ref manager" the ReplicaSet and
// Deployment controllers share: it decides which objects an owner controls.
//
// A controller finds its objects by label selector, but labels are a loose
// link: anyone can add or remove them. The firm link is the controller
// ownerReference (controller=true) on the object, the one the garbage
// collector follows. Claiming keeps the two in step:
//
//	object's controller ref   selector matches?   result
//	─────────────────────────  ─────────────────   ──────────────────────────
//	another owner              (any)               not ours, leave it
//	us                         yes                 claimed
//	us                         no                  release: drop our ref
//	none (an orphan)           yes                 adopt: add our ref
//	none (an orphan)           no                  not ours
//
// An owner that is being deleted neither adopts nor releases, so the garbage
// collector sees a stable picture; and before the first adoption the owner
// is read fresh from the API server (the cache may not know yet that it is
// being deleted).
package controllerref

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Manager claims objects for one owner.
type Manager struct {
	owner    metav1.Object
	kind     schema.GroupVersionKind
	selector labels.Selector

	// recheck reads the owner fresh; it runs at most once per Manager (one
	// sync), however many orphans there are to adopt.
	recheck   func(ctx context.Context) error
	once      sync.Once
	recheckEr error
}

// NewManager returns a Manager for owner (of the given kind) selecting
// objects by selector. recheck is called once before the first adoption and
// must fail if the owner is gone or being deleted: see Recheck.
func NewManager(owner metav1.Object, kind schema.GroupVersionKind, selector labels.Selector, recheck func(ctx context.Context) error) *Manager {
	return &Manager{owner: owner, kind: kind, selector: selector, recheck: recheck}
}

// Recheck builds the recheck function for NewManager from a live GET of the
// owner, like upstream's RecheckDeletionTimestamp: adoption must stop if the
// owner was deleted (and perhaps recreated with a new UID) meanwhile.
func Recheck(owner metav1.Object, get func(ctx context.Context) (metav1.Object, error)) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		fresh, err := get(ctx)
		if err != nil {
			return fmt.Errorf("recheck %s/%s: %w", owner.GetNamespace(), owner.GetName(), err)
		}
		if fresh.GetUID() != owner.GetUID() {
			return fmt.Errorf("original %s/%s is gone: got uid %s, wanted %s", owner.GetNamespace(), owner.GetName(), fresh.GetUID(), owner.GetUID())
		}
		if t := fresh.GetDeletionTimestamp(); t != nil {
			return fmt.Errorf("%s/%s has just been deleted at %s", owner.GetNamespace(), owner.GetName(), t)
		}
		return nil
	}
}

// Patcher applies a strategic merge patch to the named object.
type Patcher func(ctx context.Context, name string, patch []byte) error

// Claim reports whether obj is the owner's after adopting or releasing it
// as the table in the package comment says. patch writes to obj's resource.
func (m *Manager) Claim(ctx context.Context, obj metav1.Object, patch Patcher) (bool, error) {
	ref := metav1.GetControllerOfNoCopy(obj)
	match := m.selector.Matches(labels.Set(obj.GetLabels()))
	if ref != nil {
		if ref.UID != m.owner.GetUID() {
			return false, nil // someone else's
		}
		if match {
			return true, nil
		}
		if m.owner.GetDeletionTimestamp() != nil {
			return false, nil
		}
		err := patch(ctx, obj.GetName(), releasePatch(m.owner.GetUID(), obj.GetUID()))
		// NotFound: gone already. Invalid: the ref or the object changed under us.
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) {
			return false, fmt.Errorf("release %s/%s from %s %s: %w", obj.GetNamespace(), obj.GetName(), m.kind.Kind, m.owner.GetName(), err)
		}
		return false, nil
	}
	// An orphan.
	if m.owner.GetDeletionTimestamp() != nil || !match || obj.GetDeletionTimestamp() != nil ||
		obj.GetNamespace() != m.owner.GetNamespace() {
		return false, nil
	}
	m.once.Do(func() { m.recheckEr = m.recheck(ctx) })
	if m.recheckEr != nil {
		return false, fmt.Errorf("can't adopt %s/%s: %w", obj.GetNamespace(), obj.GetName(), m.recheckEr)
	}
	err := patch(ctx, obj.GetName(), adoptPatch(m.owner, m.kind, obj.GetUID()))
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("adopt %s/%s into %s %s: %w", obj.GetNamespace(), obj.GetName(), m.kind.Kind, m.owner.GetName(), err)
	}
	return true, nil
}

// patchMeta is the metadata part of a claim patch. The uid makes the API
// server refuse the patch if the object was replaced by a namesake.
type patchMeta struct {
	OwnerReferences []map[string]any `json:"ownerReferences"`
	UID             types.UID        `json:"uid"`
}

func adoptPatch(owner metav1.Object, kind schema.GroupVersionKind, uid types.UID) []byte {
	ref := map[string]any{
		"apiVersion": kind.GroupVersion().String(), "kind": kind.Kind,
		"name": owner.GetName(), "uid": owner.GetUID(),
		"controller": true, "blockOwnerDeletion": true,
	}
	return mustJSON(map[string]any{"metadata": patchMeta{OwnerReferences: []map[string]any{ref}, UID: uid}})
}

// releasePatch removes one owner reference, matched by its uid (the merge
// key of ownerReferences in a strategic merge patch).
func releasePatch(ownerUID, uid types.UID) []byte {
	ref := map[string]any{"$patch": "delete", "uid": ownerUID}
	return mustJSON(map[string]any{"metadata": patchMeta{OwnerReferences: []map[string]any{ref}, UID: uid}})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal claim patch: %v", err)) // plain maps and strings always marshal
	}
	return b
}

// ClaimAll claims each object and returns those that are the owner's. It
// goes through all of them even when some fail, and joins the errors.
func ClaimAll[T metav1.Object](ctx context.Context, m *Manager, objs []T, patch Patcher) ([]T, error) {
	var claimed []T
	var errs []error
	for _, obj := range objs {
		ok, err := m.Claim(ctx, obj, patch)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			claimed = append(claimed, obj)
		}
	}
	return claimed, errors.Join(errs...)
}
