package storage

// Watchers are the cache's clients: each HTTP watch stream is one. They are
// registered under the cache's lock together with the events they start
// from, so nothing is missed or sent twice, and each gets its own buffered
// channel that the cache never blocks on.

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/watch"
)

// dispatchLocked sends an event to the watchers that may want it: all the
// unindexed ones, and the indexed ones whose value the object has now or
// had before.
func (c *Cacher) dispatchLocked(e Event) {
	send := func(w *Watcher) {
		select {
		case w.c <- e:
		default:
			slog.Info("disconnecting slow watcher", "prefix", c.prefix)
			c.dropLocked(w)
		}
	}
	for w := range c.all {
		send(w)
	}
	if c.trigger == "" || len(c.byValue) == 0 {
		return
	}
	now, before := e.Fields[c.trigger], e.PrevFields[c.trigger]
	for w := range c.byValue[now] {
		send(w)
	}
	if before != now {
		for w := range c.byValue[before] {
			send(w)
		}
	}
}

// Watch registers a watcher. With initial set, the returned events are the
// current objects under keyPrefix as Added events (the state at the returned
// revision); otherwise they replay every change after revision from. Either
// way the watcher's channel continues with changes after the returned
// revision, with no gap and no duplicate.
//
// triggerValue, when not empty, says the watcher only wants objects whose
// trigger field has (or had) that value: it is indexed and skipped for
// every other event.
func (c *Cacher) Watch(ctx context.Context, keyPrefix string, from int64, initial bool, triggerValue string) ([]Event, int64, *Watcher, error) {
	if from > 0 {
		if err := c.WaitForRev(ctx, from); err != nil {
			return nil, 0, nil, err
		}
	} else if err := c.WaitReady(ctx); err != nil {
		return nil, 0, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var events []Event
	if initial {
		for _, obj := range c.snapshotLocked(keyPrefix) {
			e := Event{Type: watch.Added, Object: obj}
			if c.attrs != nil {
				e.Labels, e.Fields = c.attrs(obj)
			}
			events = append(events, e)
		}
	} else {
		if from < c.oldest {
			return nil, 0, nil, fmt.Errorf("watch %s from revision %d (oldest held %d): %w", c.prefix, from, c.oldest, ErrTooOld)
		}
		i := sort.Search(len(c.ring), func(i int) bool { return c.ring[i].Rev > from })
		events = append(events, c.ring[i:]...)
	}
	w := &Watcher{c: make(chan Event, watcherBuffer), cacher: c}
	if c.trigger == "" {
		triggerValue = ""
	}
	w.value, w.indexed = triggerValue, triggerValue != ""
	c.watchers[w] = struct{}{}
	if w.indexed {
		if c.byValue[triggerValue] == nil {
			c.byValue[triggerValue] = map[*Watcher]struct{}{}
		}
		c.byValue[triggerValue][w] = struct{}{}
	} else {
		c.all[w] = struct{}{}
	}
	return events, c.rev, w, nil
}

func (c *Cacher) dropLocked(w *Watcher) {
	if _, ok := c.watchers[w]; !ok {
		return
	}
	delete(c.watchers, w)
	if w.indexed {
		delete(c.byValue[w.value], w)
		if len(c.byValue[w.value]) == 0 {
			delete(c.byValue, w.value)
		}
	} else {
		delete(c.all, w)
	}
	close(w.c)
}

func (c *Cacher) stopAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for w := range c.watchers {
		c.dropLocked(w)
	}
}

// Watcher receives the cache's events. Its channel closes when the watcher
// is stopped, falls behind, or the cache restarts.
type Watcher struct {
	c       chan Event
	cacher  *Cacher
	value   string // trigger value it is indexed under
	indexed bool
}

// Events is the stream of changes (and bookmarks).
func (w *Watcher) Events() <-chan Event { return w.c }

// Stop unregisters the watcher.
func (w *Watcher) Stop() {
	w.cacher.mu.Lock()
	defer w.cacher.mu.Unlock()
	w.cacher.dropLocked(w)
}

// KeepProgress asks etcd every interval to report its revision on the shared
// watch stream. Every cacher then learns the current revision even when its
// own prefix is quiet, which keeps bookmarks fresh and idle clients from
// falling so far behind that their next watch would be "too old".
func KeepProgress(ctx context.Context, client *clientv3.Client, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = client.RequestProgress(context.Background())
		}
	}
}
