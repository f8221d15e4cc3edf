package registry

import (
	"bytes"
	"context"
	"errors"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubelab/kubelab/components/apiserver/storage"
)

// UpdateFunc computes the desired object from the current one (a private
// copy; nil when the object does not exist). PUT returns the request body;
// PATCH returns the current object with the patch applied.
type UpdateFunc func(current runtime.Object) (runtime.Object, error)

// Update changes one object with optimistic concurrency. If the desired
// object names a resourceVersion, it must still be current (else 409
// Conflict: someone else wrote first). If it names none, the store retries
// on conflicts itself, re-running fn on the fresh object — which is what
// makes PATCH safe without a resourceVersion.
func (st *Store) Update(ctx context.Context, ns, name string, fn UpdateFunc, opts WriteOptions) (runtime.Object, bool, error) {
	info := st.Info
	key := info.Key(ns, name)
	for attempt := 0; ; attempt++ {
		kv, err := st.etcd.Get(ctx, key)
		if errors.Is(err, storage.ErrNotFound) {
			desired, err := fn(nil)
			if err != nil {
				return nil, false, err
			}
			if !info.AllowCreateOnUpdate && !opts.Apply || opts.Subresource != "" {
				return nil, false, apierrors.NewNotFound(info.GroupResource(), name)
			}
			created, err := st.Create(ctx, ns, desired, opts)
			return created, true, err
		}
		if err != nil {
			return nil, false, err
		}
		current, err := info.Decode(kv.Value, kv.ModRevision)
		if err != nil {
			return nil, false, err
		}
		desired, err := fn(current.DeepCopyObject())
		if err != nil {
			return nil, false, err
		}
		dm, err := meta.Accessor(desired)
		if err != nil {
			return nil, false, badRequest("object has no metadata: %v", err)
		}
		if dm.GetName() != name {
			return nil, false, badRequest("the name of the object (%s) does not match the name on the URL (%s)", dm.GetName(), name)
		}
		if info.Namespaced && dm.GetNamespace() != "" && dm.GetNamespace() != ns {
			return nil, false, badRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
		conditional := dm.GetResourceVersion() != ""
		if conditional && dm.GetResourceVersion() != strconv.FormatInt(kv.ModRevision, 10) {
			return nil, false, st.storageError(storage.ErrConflict, name)
		}

		final, err := st.prepareUpdate(desired, current, opts)
		if err != nil {
			return nil, false, err
		}
		fm, _ := meta.Accessor(final)
		// An object being deleted whose last finalizer just went away is
		// removed for real: this is how finalizers hold up deletion.
		cm, _ := meta.Accessor(current)
		if fm.GetDeletionTimestamp() != nil && len(fm.GetFinalizers()) == 0 && len(cm.GetFinalizers()) > 0 {
			if opts.DryRun {
				return final, false, nil
			}
			if _, err := st.etcd.Delete(ctx, key, kv.ModRevision); err != nil {
				if errors.Is(err, storage.ErrConflict) && !conditional {
					continue
				}
				return nil, false, st.storageError(err, name)
			}
			if info.Hooks.AfterDelete != nil {
				info.Hooks.AfterDelete(ctx, final)
			}
			return final, false, nil
		}

		data, err := info.Encode(final)
		if err != nil {
			return nil, false, err
		}
		stored, _ := info.Encode(current)
		if bytes.Equal(data, stored) {
			return current, false, nil // a no-op write must not bump resourceVersion
		}
		commit, undo := func() {}, func() {}
		if info.Hooks.AdmitUpdate != nil && opts.Subresource == "" {
			c, u, err := info.Hooks.AdmitUpdate(ctx, final, current)
			if err != nil {
				return nil, false, err
			}
			if c != nil {
				commit = c
			}
			if u != nil {
				undo = u
			}
		}
		if opts.DryRun {
			undo()
			return final, false, nil
		}
		rev, err := st.etcd.Update(ctx, key, data, kv.ModRevision, info.TTL)
		if err != nil {
			undo()
			if errors.Is(err, storage.ErrConflict) && !conditional && attempt < 50 {
				continue
			}
			return nil, false, st.storageError(err, name)
		}
		commit()
		setRV(final, rev)
		return final, false, nil
	}
}

// prepareUpdate applies the generic rules of an update to the desired
// object: the server-owned metadata stays, status and spec are each written
// only through their own endpoint, and generation counts spec changes.
func (st *Store) prepareUpdate(desired, current runtime.Object, opts WriteOptions) (runtime.Object, error) {
	info := st.Info
	var final runtime.Object
	if opts.Subresource == "status" {
		// Only status changes; everything else is the stored object.
		final = current.DeepCopyObject()
		copyStatus(final, desired)
		fm, _ := meta.Accessor(final)
		dm, _ := meta.Accessor(desired)
		fm.SetManagedFields(dm.GetManagedFields())
		statusKeepsMetadata(info, fm, dm)
	} else {
		final = desired
		if info.Status && (opts.Subresource == "" || opts.Subresource == "scale") {
			copyStatus(final, current)
		}
	}
	fm, _ := meta.Accessor(final)
	cm, _ := meta.Accessor(current)
	fm.SetUID(cm.GetUID())
	fm.SetCreationTimestamp(cm.GetCreationTimestamp())
	fm.SetDeletionTimestamp(cm.GetDeletionTimestamp())
	fm.SetDeletionGracePeriodSeconds(cm.GetDeletionGracePeriodSeconds())
	fm.SetNamespace(cm.GetNamespace())
	fm.SetGeneration(cm.GetGeneration())
	fm.SetResourceVersion(cm.GetResourceVersion())
	if cm.GetDeletionTimestamp() != nil && hasNewFinalizer(fm.GetFinalizers(), cm.GetFinalizers()) {
		return nil, st.invalid(cm.GetName(), field.ErrorList{field.Forbidden(field.NewPath("metadata", "finalizers"),
			"no new finalizers can be added if the object is being deleted")})
	}
	if st.strategy.Default != nil {
		st.strategy.Default(final)
	}
	if info.Schema != nil {
		info.Schema.Prune(final) // an apply or patch may have brought undeclared fields
		info.Schema.Default(final)
	}
	if info.Generation && opts.Subresource != "status" && !specEqual(final, current) {
		fm.SetGeneration(cm.GetGeneration() + 1)
	}
	if errs := st.validate(final, current); len(errs) > 0 {
		return nil, st.invalid(cm.GetName(), errs)
	}
	return st.recordFields(current, final, opts), nil
}

// statusKeepsMetadata: upstream's status strategies for built-in kinds
// reset only the spec, so annotations (and, except for the apps workloads,
// labels) written through /status are kept. The deployment controller relies
// on it: it records deployment.kubernetes.io/revision with its status
// update. Custom resources keep only their status, as upstream.
func statusKeepsMetadata(info *Info, final, desired metav1.Object) {
	if info.New == nil {
		return
	}
	final.SetAnnotations(desired.GetAnnotations())
	if info.GVK.Group != "apps" {
		final.SetLabels(desired.GetLabels())
	}
}

func hasNewFinalizer(now, before []string) bool {
	old := map[string]bool{}
	for _, f := range before {
		old[f] = true
	}
	for _, f := range now {
		if !old[f] {
			return true
		}
	}
	return false
}

// validate runs the kind's validation (ValidateUpdate when old is set) and,
// for custom resources, their schema.
func (st *Store) validate(obj, old runtime.Object) field.ErrorList {
	var errs field.ErrorList
	if old == nil {
		errs = st.strategy.ValidateCreate(obj)
	} else {
		errs = st.strategy.ValidateUpdate(obj, old)
	}
	if st.Info.Schema != nil {
		errs = append(errs, st.Info.Schema.Validate(obj)...)
	}
	return errs
}
