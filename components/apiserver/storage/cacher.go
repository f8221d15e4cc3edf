package storage

// The watch cache ("cacher") is how one API server serves thousands of
// watches with one etcd watch per resource:
//
//	etcd ──watch(prefix)──▶ Cacher.run ──decode once──▶ objects map (current state)
//	                                        │           ring of recent events
//	                                        └──fan out──▶ Watcher.C ─▶ HTTP watch streams
//
// A client watch starts either from a snapshot of the current state (a
// resourceVersion of "0" or "", or sendInitialEvents=true) or from a
// revision it already saw: then the ring replays everything after it. A
// revision older than the ring is "too old" (410 Gone); the client relists,
// exactly like against a real kube-apiserver. A consumer that cannot keep up
// is disconnected rather than allowed to slow everyone down; it reconnects
// from its last revision and loses nothing.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// ErrTooOld means a watch asked for a revision the cache no longer holds (410).
var ErrTooOld = errors.New("too old resource version")

// ErrTooLarge means a watch asked for a revision the cache has not reached in time (504).
var ErrTooLarge = errors.New("too large resource version")

// Decoder turns a stored value into an object whose resourceVersion is rev.
type Decoder func(value []byte, rev int64) (runtime.Object, error)

// Event is one change, decoded once and shared by every watcher. Objects
// are shared: readers must not modify them.
type Event struct {
	Type   watch.EventType // Added, Modified, Deleted, or Bookmark
	Key    string
	Rev    int64
	Object runtime.Object // for Deleted: the last state, at the deletion revision
	Prev   runtime.Object // the state before a Modified or Deleted event
	// Labels and Fields of Object (and of Prev), computed once per event
	// for every watcher's selectors.
	Labels, PrevLabels labels.Set
	Fields, PrevFields fields.Set
}

// AttrFunc gives an object's labels and selectable fields.
type AttrFunc func(obj runtime.Object) (labels.Set, fields.Set)

const watcherBuffer = 1024

// Cacher mirrors one etcd prefix in memory and fans its changes out.
type Cacher struct {
	store    *Store
	prefix   string
	decode   Decoder
	capacity int
	attrs    AttrFunc
	// trigger is a field most watchers select on with an exact value
	// (spec.nodeName for pods: every kubelet watches its own pods). Such
	// watchers are indexed by that value, so an event reaches only the
	// watchers that can match it instead of all of them.
	trigger string

	mu       sync.Mutex
	ready    chan struct{} // closed after the first list
	advanced chan struct{} // closed and replaced whenever rev moves
	objects  map[string]runtime.Object
	rev      int64                            // every event up to rev has been applied
	oldest   int64                            // the ring holds every event with Rev > oldest
	ring     []Event                          // recent events, oldest first
	watchers map[*Watcher]struct{}            // every watcher
	all      map[*Watcher]struct{}            // watchers not indexed by trigger
	byValue  map[string]map[*Watcher]struct{} // trigger value -> watchers
}

// NewCacher makes a cache of every key under prefix. Call Run to fill it.
// attrs (optional) computes labels and fields once per event; trigger
// (optional) names the field watchers may be indexed by.
func NewCacher(store *Store, prefix string, decode Decoder, capacity int, attrs AttrFunc, trigger string) *Cacher {
	if capacity <= 0 {
		capacity = 4096
	}
	return &Cacher{
		store: store, prefix: prefix, decode: decode, capacity: capacity, attrs: attrs, trigger: trigger,
		ready: make(chan struct{}), advanced: make(chan struct{}),
		objects: map[string]runtime.Object{}, watchers: map[*Watcher]struct{}{},
		all: map[*Watcher]struct{}{}, byValue: map[string]map[*Watcher]struct{}{},
	}
}

// Run lists and watches until ctx ends, relisting after any watch failure.
func (c *Cacher) Run(ctx context.Context) {
	defer c.stopAll()
	for ctx.Err() == nil {
		rev, err := c.relist(ctx)
		if err != nil {
			slog.Warn("watch cache list failed", "prefix", c.prefix, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		err = c.watch(ctx, rev)
		if ctx.Err() == nil {
			slog.Warn("watch cache restarting", "prefix", c.prefix, "err", err)
			sleep(ctx, 100*time.Millisecond)
		}
	}
}

func (c *Cacher) relist(ctx context.Context) (int64, error) {
	kvs, rev, err := c.store.List(ctx, c.prefix)
	if err != nil {
		return 0, err
	}
	objects := make(map[string]runtime.Object, len(kvs))
	for _, kv := range kvs {
		obj, err := c.decode(kv.Value, kv.ModRevision)
		if err != nil {
			slog.Error("watch cache cannot decode stored object", "key", kv.Key, "err", err)
			continue
		}
		objects[kv.Key] = obj
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Watchers were following the old event stream; after a relist we cannot
	// prove they saw every change, so they must reconnect.
	for w := range c.watchers {
		c.dropLocked(w)
	}
	c.objects, c.ring, c.oldest = objects, nil, rev
	c.setRevLocked(rev)
	select {
	case <-c.ready:
	default:
		close(c.ready)
	}
	return rev, nil
}

func (c *Cacher) watch(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := c.store.client.Watch(wctx, c.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1),
		clientv3.WithPrevKV(), clientv3.WithProgressNotify())
	for resp := range ch {
		if err := resp.Err(); err != nil {
			return fmt.Errorf("etcd watch %s: %w", c.prefix, err)
		}
		if resp.IsProgressNotify() {
			c.progress(resp.Header.Revision)
			continue
		}
		c.apply(resp.Events, resp.Header.Revision)
	}
	return fmt.Errorf("etcd watch %s closed", c.prefix)
}

// apply decodes etcd events, updates the state and fans them out.
func (c *Cacher) apply(evs []*clientv3.Event, headerRev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range evs {
		key := string(ev.Kv.Key)
		e := Event{Key: key, Rev: ev.Kv.ModRevision, Prev: c.objects[key]}
		switch ev.Type {
		case clientv3.EventTypeDelete:
			e.Type = watch.Deleted
			last := e.Prev
			if ev.PrevKv != nil {
				if obj, err := c.decode(ev.PrevKv.Value, ev.Kv.ModRevision); err == nil {
					last = obj
				}
			}
			if last == nil {
				continue // never seen: nothing a watcher could have known about
			}
			e.Object = last
			delete(c.objects, key)
		default:
			obj, err := c.decode(ev.Kv.Value, ev.Kv.ModRevision)
			if err != nil {
				slog.Error("watch cache cannot decode event", "key", key, "err", err)
				continue
			}
			e.Object = obj
			e.Type = watch.Modified
			if e.Prev == nil {
				e.Type = watch.Added
			}
			c.objects[key] = obj
		}
		if c.attrs != nil {
			e.Labels, e.Fields = c.attrs(e.Object)
			if e.Prev != nil {
				e.PrevLabels, e.PrevFields = c.attrs(e.Prev)
			}
		}
		c.appendLocked(e)
		c.dispatchLocked(e)
	}
	c.setRevLocked(headerRev)
}

// progress records that etcd has no more events up to rev, and offers every
// watcher a bookmark so idle clients keep a fresh resourceVersion.
func (c *Cacher) progress(rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev <= c.rev {
		return
	}
	c.setRevLocked(rev)
	for w := range c.watchers {
		select {
		case w.c <- Event{Type: watch.Bookmark, Rev: rev}:
		default: // a bookmark is only a hint; never drop a watcher for it
		}
	}
}

func (c *Cacher) appendLocked(e Event) {
	c.ring = append(c.ring, e)
	if len(c.ring) > c.capacity {
		drop := c.capacity / 4
		c.oldest = c.ring[drop-1].Rev
		c.ring = append([]Event(nil), c.ring[drop:]...)
	}
}

func (c *Cacher) setRevLocked(rev int64) {
	if rev > c.rev {
		c.rev = rev
		close(c.advanced)
		c.advanced = make(chan struct{})
	}
}

// WaitReady blocks until the first list has filled the cache.
func (c *Cacher) WaitReady(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("watch cache %s not ready: %w", c.prefix, ctx.Err())
	}
}

// Rev is the newest revision the cache has applied.
func (c *Cacher) Rev() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rev
}

// WaitForRev waits until the cache has applied revision rev, asking etcd for
// a progress report so that a revision written to another prefix (a global
// counter!) is noticed too. It gives up after 3 s like kube-apiserver.
func (c *Cacher) WaitForRev(ctx context.Context, rev int64) error {
	if err := c.WaitReady(ctx); err != nil {
		return err
	}
	deadline := time.After(3 * time.Second)
	for {
		c.mu.Lock()
		cur, advanced := c.rev, c.advanced
		c.mu.Unlock()
		if cur >= rev {
			return nil
		}
		_ = c.store.client.RequestProgress(context.Background())
		select {
		case <-advanced:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			return fmt.Errorf("waiting for revision %d of %s (at %d): %w", rev, c.prefix, cur, ErrTooLarge)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Snapshot returns the current objects under keyPrefix (sorted by key) and
// the revision they are at.
func (c *Cacher) Snapshot(keyPrefix string) ([]runtime.Object, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snapshotLocked(keyPrefix), c.rev
}

func (c *Cacher) snapshotLocked(keyPrefix string) []runtime.Object {
	keys := make([]string, 0, len(c.objects))
	for k := range c.objects {
		if len(k) >= len(keyPrefix) && k[:len(keyPrefix)] == keyPrefix {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]runtime.Object, len(keys))
	for i, k := range keys {
		out[i] = c.objects[k]
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// Get returns the cached object at key, if the cache has it. The cache may
// lag etcd by a few milliseconds: callers that need certainty fall back to
// a read from etcd when it is missing.
func (c *Cacher) Get(key string) (runtime.Object, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	obj, ok := c.objects[key]
	return obj, ok
}
