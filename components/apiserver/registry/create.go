package registry

import (
	"context"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/kubelab/kubelab/components/apiserver/storage"
)

// Create stores a new object: the path every `kubectl create` and every
// controller's Create takes.
//
//	namespace exists? -> fill metadata (uid, timestamps, generation) ->
//	defaults -> validation -> admission hooks -> etcd create-if-absent
func (st *Store) Create(ctx context.Context, ns string, obj runtime.Object, opts WriteOptions) (runtime.Object, error) {
	info := st.Info
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, badRequest("object has no metadata: %v", err)
	}
	if info.Namespaced {
		if m.GetNamespace() == "" {
			m.SetNamespace(ns)
		} else if m.GetNamespace() != ns {
			return nil, badRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
		if st.namespace != nil {
			if err := st.namespace(ctx, ns); err != nil {
				return nil, err
			}
		}
	} else {
		m.SetNamespace("")
	}

	// Metadata the server owns, whatever the client sent.
	m.SetUID(uuid.NewUUID())
	m.SetCreationTimestamp(metav1.NewTime(st.now()))
	m.SetResourceVersion("")
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	if info.Generation {
		m.SetGeneration(1)
	} else {
		m.SetGeneration(0)
	}
	if info.Status && !info.KeepStatusOnCreate {
		clearStatus(obj) // status is the controllers' to write, through /status
	}
	if info.Hooks.PrepareCreate != nil {
		info.Hooks.PrepareCreate(obj)
	}

	generated := m.GetName() == "" && m.GetGenerateName() != ""
	for attempt := 0; ; attempt++ {
		if generated {
			m.SetName(m.GetGenerateName() + rand.String(5))
		}
		if st.strategy.Default != nil {
			st.strategy.Default(obj)
		}
		if info.Schema != nil {
			info.Schema.Default(obj)
		}
		if errs := st.validate(obj, nil); len(errs) > 0 {
			return nil, st.invalid(m.GetName(), errs)
		}
		obj = st.recordFields(nil, obj, opts)

		undo := func() {}
		if info.Hooks.AdmitCreate != nil {
			// Reserving (a Service's cluster IP) for an object that already
			// exists would fail with a confusing message: say AlreadyExists.
			if _, err := st.etcd.Get(ctx, info.Key(m.GetNamespace(), m.GetName())); err == nil {
				if generated && attempt < 5 {
					continue
				}
				return nil, st.storageError(storage.ErrExists, m.GetName())
			}
			u, err := info.Hooks.AdmitCreate(ctx, obj)
			if err != nil {
				return nil, err
			}
			if u != nil {
				undo = u
			}
		}
		if opts.DryRun {
			undo()
			return obj, nil
		}
		data, err := info.Encode(obj)
		if err != nil {
			undo()
			return nil, err
		}
		rev, err := st.etcd.Create(ctx, info.Key(m.GetNamespace(), m.GetName()), data, info.TTL)
		if err != nil {
			undo()
			if errors.Is(err, storage.ErrExists) && generated && attempt < 5 {
				continue // a random suffix collided: roll again, like upstream
			}
			return nil, st.storageError(err, m.GetName())
		}
		setRV(obj, rev)
		return obj, nil
	}
}

// recordFields updates managedFields for a non-apply write (live is nil on
// create). Apply writes have their fields recorded by the apply merge.
func (st *Store) recordFields(live, obj runtime.Object, opts WriteOptions) runtime.Object {
	if opts.Apply {
		return obj
	}
	manager := opts.FieldManager
	if manager == "" {
		manager = "unknown"
	}
	if live == nil {
		live = st.Info.NewObject()
	}
	return st.fields.forSub(opts.Subresource).UpdateNoErrors(live, obj, manager)
}

// Apply merges a server-side apply configuration into live (nil when the
// object does not exist) and returns the merged object, or a 409 listing
// the conflicting fields and their managers.
func (st *Store) Apply(live, applied runtime.Object, opts WriteOptions) (runtime.Object, error) {
	if live == nil {
		live = st.Info.NewObject()
		if m, err := meta.Accessor(applied); err == nil {
			lm, _ := meta.Accessor(live)
			lm.SetName(m.GetName())
			lm.SetNamespace(m.GetNamespace())
		}
	}
	out, err := st.fields.forSub(opts.Subresource).Apply(live, applied, opts.FieldManager, opts.Force)
	if err != nil {
		if apierrors.IsConflict(err) || apierrors.IsBadRequest(err) || apierrors.IsInvalid(err) {
			return nil, err
		}
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return out, nil
}
