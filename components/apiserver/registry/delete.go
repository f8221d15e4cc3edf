package registry

import (
	"context"
	"errors"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubelab/kubelab/components/apiserver/storage"
)

// Finalizers the garbage collector acts on (see DeleteOptions.PropagationPolicy).
const (
	FinalizerOrphan     = metav1.FinalizerOrphanDependents // "orphan"
	FinalizerForeground = metav1.FinalizerDeleteDependents // "foregroundDeletion"
)

// Delete removes an object, or starts its deletion:
//
//   - preconditions (uid, resourceVersion) must hold, else 409;
//   - propagationPolicy Orphan or Foreground adds the garbage collector's
//     finalizer, which keeps the object until the collector has handled its
//     dependents (Background deletes now; the collector removes dependents);
//   - an object with finalizers only gets metadata.deletionTimestamp: the
//     controllers that own the finalizers remove them, and the last removal
//     deletes the object (see Update);
//   - kinds with graceful deletion (pods on a node) get a deletionTimestamp
//     in the future and are removed by the kubelet once stopped.
//
// It returns the object as deleted (or as now stored) and whether it is gone.
func (st *Store) Delete(ctx context.Context, ns, name string, opts *metav1.DeleteOptions, dryRun bool) (runtime.Object, bool, error) {
	info := st.Info
	key := info.Key(ns, name)
	if opts == nil {
		opts = &metav1.DeleteOptions{}
	}
	for attempt := 0; attempt < 50; attempt++ {
		kv, err := st.etcd.Get(ctx, key)
		if err != nil {
			return nil, false, st.storageError(err, name)
		}
		obj, err := info.Decode(kv.Value, kv.ModRevision)
		if err != nil {
			return nil, false, err
		}
		m, _ := meta.Accessor(obj)
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != m.GetUID() {
				return nil, false, apierrors.NewConflict(info.GroupResource(), name,
					errors.New("Precondition failed: UID in precondition: "+string(*p.UID)+", UID in object meta: "+string(m.GetUID())))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != strconv.FormatInt(kv.ModRevision, 10) {
				return nil, false, apierrors.NewConflict(info.GroupResource(), name,
					errors.New("Precondition failed: ResourceVersion in precondition: "+*p.ResourceVersion+", ResourceVersion in object meta: "+m.GetResourceVersion()))
			}
		}

		keep, changed := false, false
		if policy := propagation(opts); policy != "" {
			finalizer := FinalizerOrphan
			if policy == metav1.DeletePropagationForeground {
				finalizer = FinalizerForeground
			}
			if !contains(m.GetFinalizers(), finalizer) {
				m.SetFinalizers(append(m.GetFinalizers(), finalizer))
				changed = true
			}
		}
		if len(m.GetFinalizers()) > 0 {
			keep = true
			if m.GetDeletionTimestamp() == nil {
				now := metav1.NewTime(st.now())
				zero := int64(0)
				m.SetDeletionTimestamp(&now)
				m.SetDeletionGracePeriodSeconds(&zero)
				m.SetGeneration(m.GetGeneration() + 1)
				changed = true
			}
		} else if info.Hooks.BeforeDelete != nil {
			k, err := info.Hooks.BeforeDelete(obj, opts, st.now())
			if err != nil {
				return nil, false, err
			}
			keep, changed = k, k
		}

		if keep {
			if !changed || dryRun {
				return obj, false, nil
			}
			data, err := info.Encode(obj)
			if err != nil {
				return nil, false, err
			}
			rev, err := st.etcd.Update(ctx, key, data, kv.ModRevision, info.TTL)
			if errors.Is(err, storage.ErrConflict) {
				continue
			}
			if err != nil {
				return nil, false, err
			}
			setRV(obj, rev)
			return obj, false, nil
		}
		if dryRun {
			return obj, true, nil
		}
		if _, err := st.etcd.Delete(ctx, key, kv.ModRevision); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				continue
			}
			return nil, false, st.storageError(err, name)
		}
		if info.Hooks.AfterDelete != nil {
			info.Hooks.AfterDelete(ctx, obj)
		}
		return obj, true, nil
	}
	return nil, false, apierrors.NewConflict(info.GroupResource(), name, errors.New(conflictMessage))
}

// propagation returns Orphan or Foreground when the delete asks for a
// finalizer-based policy, "" for Background (the default).
func propagation(opts *metav1.DeleteOptions) metav1.DeletionPropagation {
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationOrphan, metav1.DeletePropagationForeground:
			return *opts.PropagationPolicy
		}
		return ""
	}
	if opts.OrphanDependents != nil && *opts.OrphanDependents {
		return metav1.DeletePropagationOrphan
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
