package endpointslice

import (
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
)

// expectations remember the slice writes of the last sync of each service
// until the informer's cache shows them. A sync on a cache that does not
// yet show our last create would create the same endpoints again, and a
// sync that does not yet show our last update would fail on a conflict:
// so until the cache caught up, sync waits (upstream's
// EndpointSliceTracker does the same job with generations).
type expectations struct {
	mu      sync.Mutex
	pending map[string]*pending // by service key
	now     func() time.Time
}

type pending struct {
	since   time.Time
	created map[string]bool   // slice names that must show up
	updated map[string]string // slice name → the resourceVersion we replaced
	deleted map[string]bool   // slice names that must go
}

// expectationTimeout bounds the wait: if a slice we created was deleted
// by someone before our informer saw it, it never shows up.
const expectationTimeout = 30 * time.Second

func newExpectations() *expectations {
	return &expectations{pending: map[string]*pending{}, now: time.Now}
}

// expect records the writes made for service key.
func (e *expectations) expect(key string, created, deleted []*discoveryv1.EndpointSlice, updated map[string]string) {
	p := &pending{since: e.now(), created: map[string]bool{}, updated: updated, deleted: map[string]bool{}}
	for _, s := range created {
		p.created[s.Name] = true
	}
	for _, s := range deleted {
		p.deleted[s.Name] = true
	}
	e.mu.Lock()
	e.pending[key] = p
	e.mu.Unlock()
}

// satisfied reports whether cached (the service's slices in the cache)
// shows every write we expect, and forgets the expectations once it does.
func (e *expectations) satisfied(key string, cached []*discoveryv1.EndpointSlice) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.pending[key]
	if !ok {
		return true
	}
	byName := make(map[string]*discoveryv1.EndpointSlice, len(cached))
	for _, s := range cached {
		byName[s.Name] = s
	}
	caughtUp := true
	for name := range p.created {
		caughtUp = caughtUp && byName[name] != nil
	}
	for name, old := range p.updated {
		caughtUp = caughtUp && (byName[name] == nil || byName[name].ResourceVersion != old)
	}
	for name := range p.deleted {
		caughtUp = caughtUp && (byName[name] == nil || byName[name].DeletionTimestamp != nil)
	}
	if caughtUp || e.now().Sub(p.since) > expectationTimeout {
		delete(e.pending, key)
		return true
	}
	return false
}

func (e *expectations) forget(key string) {
	e.mu.Lock()
	delete(e.pending, key)
	e.mu.Unlock()
}
