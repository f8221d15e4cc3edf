package registry

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubelab/kubelab/components/apiserver/storage"
)

// Strategy is the per-kind knowledge the generic store calls out to:
// defaulting, validation and the field set for field selectors. One
// Strategy serves every kind (the functions switch on the Go type).
type Strategy struct {
	Default        func(obj runtime.Object)
	ValidateCreate func(obj runtime.Object) field.ErrorList
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
	Fields         func(obj runtime.Object) fields.Set
}

// Hooks are optional per-kind steps around writes (admission plugins and
// registry specials in upstream's terms).
type Hooks struct {
	// PrepareCreate adjusts a new object before defaulting (e.g. a new
	// pod's phase is Pending).
	PrepareCreate func(obj runtime.Object)
	// AdmitCreate runs after validation; it may reserve resources (a
	// Service's cluster IP) and returns how to undo that if the write fails.
	AdmitCreate func(ctx context.Context, obj runtime.Object) (undo func(), err error)
	// AdmitUpdate is AdmitCreate for changes: commit after a successful
	// write, undo after a failed one.
	AdmitUpdate func(ctx context.Context, obj, old runtime.Object) (commit, undo func(), err error)
	// BeforeDelete may turn a delete into an update (graceful deletion of
	// pods, namespaces turning Terminating): it changes obj in place and
	// returns true when obj must be stored instead of deleted.
	BeforeDelete func(obj runtime.Object, opts *metav1.DeleteOptions, now time.Time) (keep bool, err error)
	// AfterDelete releases what the object held.
	AfterDelete func(ctx context.Context, obj runtime.Object)
}

// NamespaceCheck answers whether objects may be created in a namespace: nil,
// a NotFound error, or a Forbidden error while it is terminating.
type NamespaceCheck func(ctx context.Context, namespace string) error

// WriteOptions are the query parameters every write accepts.
type WriteOptions struct {
	DryRun       bool
	FieldManager string
	// Subresource of the write: "", "status" or "scale".
	Subresource string
	// Operation for managed fields: "Update" (default) or "Apply".
	Apply bool
	Force bool
}

// Store implements create/get/list/update/delete for one resource.
type Store struct {
	Info      *Info
	Cache     *storage.Cacher
	etcd      *storage.Store
	strategy  Strategy
	namespace NamespaceCheck
	fields    *FieldManager
	now       func() time.Time
}

// NewStore wires a resource to etcd. cache may be nil (no watch support).
func NewStore(info *Info, etcd *storage.Store, cache *storage.Cacher, strategy Strategy, ns NamespaceCheck) (*Store, error) {
	fm, err := NewFieldManager(info)
	if err != nil {
		return nil, err
	}
	return &Store{Info: info, etcd: etcd, Cache: cache, strategy: strategy, namespace: ns, fields: fm, now: time.Now}, nil
}

// Etcd is the storage under this store.
func (st *Store) Etcd() *storage.Store { return st.etcd }

// Get reads one object from etcd.
func (st *Store) Get(ctx context.Context, ns, name string) (runtime.Object, error) {
	kv, err := st.etcd.Get(ctx, st.Info.Key(ns, name))
	if err != nil {
		return nil, st.storageError(err, name)
	}
	return st.Info.Decode(kv.Value, kv.ModRevision)
}

// Selectors filter lists and watches.
type Selectors struct {
	Labels labels.Selector
	Fields fields.Selector
}

// MatchesAttrs reports whether an object with these labels and fields
// passes the selectors (the watch cache computes them once per event).
func MatchesAttrs(l labels.Set, f fields.Set, sel Selectors) bool {
	if sel.Labels != nil && !sel.Labels.Empty() && !sel.Labels.Matches(l) {
		return false
	}
	if sel.Fields != nil && !sel.Fields.Empty() && !sel.Fields.Matches(f) {
		return false
	}
	return true
}

// Matches reports whether obj passes the selectors.
func (st *Store) Matches(obj runtime.Object, sel Selectors) bool {
	if sel.Labels != nil && !sel.Labels.Empty() {
		m, err := meta.Accessor(obj)
		if err != nil || !sel.Labels.Matches(labels.Set(m.GetLabels())) {
			return false
		}
	}
	if sel.Fields != nil && !sel.Fields.Empty() {
		if !sel.Fields.Matches(st.strategy.Fields(obj)) {
			return false
		}
	}
	return true
}

// List reads every object of a namespace ("" = all) at one revision.
//
// Like kube-apiserver since 1.31 it answers from the watch cache, which
// holds every object already decoded, after making sure the cache has
// caught up with etcd's current revision (a consistent read, at a fraction
// of the cost of reading and decoding every object again). If the cache
// cannot catch up in time, it reads etcd directly.
func (st *Store) List(ctx context.Context, ns string, sel Selectors) ([]runtime.Object, int64, error) {
	if st.Cache != nil {
		if rev, err := st.etcd.Revision(ctx); err == nil && st.Cache.WaitForRev(ctx, rev) == nil {
			objs, crev := st.Cache.Snapshot(st.Info.Prefix(ns))
			out := make([]runtime.Object, 0, len(objs))
			for _, obj := range objs {
				if st.Matches(obj, sel) {
					out = append(out, obj)
				}
			}
			return out, crev, nil
		}
	}
	kvs, rev, err := st.etcd.List(ctx, st.Info.Prefix(ns))
	if err != nil {
		return nil, 0, err
	}
	out := make([]runtime.Object, 0, len(kvs))
	for _, kv := range kvs {
		obj, err := st.Info.Decode(kv.Value, kv.ModRevision)
		if err != nil {
			return nil, 0, err
		}
		if st.Matches(obj, sel) {
			out = append(out, obj)
		}
	}
	return out, rev, nil
}

// storageError turns storage errors into API status errors.
func (st *Store) storageError(err error, name string) error {
	gr := st.Info.GroupResource()
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return apierrors.NewNotFound(gr, name)
	case errors.Is(err, storage.ErrExists):
		return apierrors.NewAlreadyExists(gr, name)
	case errors.Is(err, storage.ErrConflict):
		return apierrors.NewConflict(gr, name, errors.New(conflictMessage))
	}
	return err
}

const conflictMessage = "the object has been modified; please apply your changes to the latest version and try again"

func setRV(obj runtime.Object, rev int64) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(strconv.FormatInt(rev, 10))
	}
}

func (st *Store) invalid(name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(st.Info.GVK.GroupKind(), name, errs)
}

func badRequest(format string, args ...interface{}) error {
	return apierrors.NewBadRequest(fmt.Sprintf(format, args...))
}
