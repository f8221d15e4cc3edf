package registry

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubelab/kubelab/components/apiserver/storage"
)

// Registry is the set of resources the server serves right now. Built-ins
// are added at start; custom resources come and go with their CRDs.
type Registry struct {
	ctx      context.Context
	etcd     *storage.Store
	strategy Strategy
	// CacheSize is how many recent events each watch cache keeps.
	CacheSize int
	nsCheck   NamespaceCheck

	mu      sync.RWMutex
	stores  map[schema.GroupVersionResource]*Store
	cancels map[schema.GroupVersionResource]context.CancelFunc
}

// New makes an empty registry. ctx bounds the watch caches it starts.
func New(ctx context.Context, etcd *storage.Store, strategy Strategy) *Registry {
	r := &Registry{ctx: ctx, etcd: etcd, strategy: strategy,
		stores: map[schema.GroupVersionResource]*Store{}, cancels: map[schema.GroupVersionResource]context.CancelFunc{}}
	r.nsCheck = r.checkNamespace
	return r
}

// Etcd returns the storage every resource uses.
func (r *Registry) Etcd() *storage.Store { return r.etcd }

// Add starts serving a resource: a store, and a watch cache filled in the
// background.
func (r *Registry) Add(info *Info) (*Store, error) {
	ctx, cancel := context.WithCancel(r.ctx)
	attrs := func(obj runtime.Object) (labels.Set, fields.Set) {
		var ls labels.Set
		if m, err := meta.Accessor(obj); err == nil {
			ls = m.GetLabels()
		}
		var fs fields.Set
		if r.strategy.Fields != nil {
			fs = r.strategy.Fields(obj)
		}
		return ls, fs
	}
	cache := storage.NewCacher(r.etcd, info.Prefix(""), info.Decode, r.CacheSize, attrs, info.TriggerField)
	st, err := NewStore(info, r.etcd, cache, r.strategy, r.nsCheck)
	if err != nil {
		cancel()
		return nil, err
	}
	r.mu.Lock()
	gvr := info.GVR()
	if old, ok := r.cancels[gvr]; ok {
		old()
	}
	r.stores[gvr] = st
	r.cancels[gvr] = cancel
	r.mu.Unlock()
	go cache.Run(ctx)
	return st, nil
}

// Remove stops serving a resource (its objects stay in etcd).
func (r *Registry) Remove(gvr schema.GroupVersionResource) {
	r.mu.Lock()
	if cancel, ok := r.cancels[gvr]; ok {
		cancel()
	}
	delete(r.stores, gvr)
	delete(r.cancels, gvr)
	r.mu.Unlock()
}

// Lookup finds the store of a group/version/resource.
func (r *Registry) Lookup(gvr schema.GroupVersionResource) (*Store, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	st, ok := r.stores[gvr]
	return st, ok
}

// MustLookup is Lookup for built-ins that are always there.
func (r *Registry) MustLookup(gvr schema.GroupVersionResource) *Store {
	st, ok := r.Lookup(gvr)
	if !ok {
		panic(fmt.Sprintf("registry: built-in resource %s not registered", gvr))
	}
	return st
}

// Stores lists every served resource, sorted by group, version, resource.
func (r *Registry) Stores() []*Store {
	r.mu.RLock()
	out := make([]*Store, 0, len(r.stores))
	for _, st := range r.stores {
		out = append(out, st)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Info.GVR(), out[j].Info.GVR()
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Resource < b.Resource
	})
	return out
}

// WaitReady waits until every watch cache has done its first list.
func (r *Registry) WaitReady(ctx context.Context) error {
	for _, st := range r.Stores() {
		if err := st.Cache.WaitReady(ctx); err != nil {
			return err
		}
	}
	return nil
}
