package rest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kubelab/kubelab/components/apiserver/registry"
	"github.com/kubelab/kubelab/components/apiserver/storage"
)

// InitialEventsEnd is the annotation of the bookmark that ends the initial
// events of a WatchList request (client-go informers wait for it).
const InitialEventsEnd = "k8s.io/initial-events-end"

// watchEvent is one line of a watch stream.
type watchEvent struct {
	Type   watch.EventType `json:"type"`
	Object interface{}     `json:"object"`
}

// watch streams changes as newline-separated JSON events. Where it starts:
//
//	resourceVersion unset or "0"        current objects as ADDED, then changes
//	resourceVersion=N                   every change after N (410 if N is too old)
//	sendInitialEvents=true              current objects (at least as new as N),
//	                                    a BOOKMARK marking their end, then changes
func (h *Handler) watch(w http.ResponseWriter, r *http.Request, ri *RequestInfo, st *registry.Store) {
	q := r.URL.Query()
	sel, err := h.selectors(r, st)
	if err != nil {
		writeError(w, err)
		return
	}
	rv, err := registry.ParseRV(q.Get("resourceVersion"))
	if err != nil {
		writeError(w, apierrors.NewBadRequest(err.Error()))
		return
	}
	sendInitial := q.Get("sendInitialEvents") == "true"
	if q.Has("sendInitialEvents") && q.Get("resourceVersionMatch") != string(metav1.ResourceVersionMatchNotOlderThan) {
		writeError(w, apierrors.NewBadRequest("sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
		return
	}
	bookmarks := q.Get("allowWatchBookmarks") == "true"
	initial := sendInitial || (rv == 0 && !q.Has("sendInitialEvents"))
	ctx := r.Context()

	from := rv
	switch {
	case sendInitial && rv == 0:
		// A consistent start: the snapshot must include every write that
		// finished before this request, so catch the cache up to etcd.
		if from, err = st.Etcd().Revision(ctx); err != nil {
			writeError(w, err)
			return
		}
	case !initial && rv == 0:
		from = st.Cache.Rev()
	}
	prefix := st.Info.Prefix(ri.Namespace)
	trigger := ""
	if st.Info.TriggerField != "" && sel.Fields != nil {
		trigger, _ = sel.Fields.RequiresExactMatch(st.Info.TriggerField)
	}
	events, snapRev, watcher, err := st.Cache.Watch(ctx, prefix, from, initial, trigger)
	if err != nil {
		if errors.Is(err, storage.ErrTooOld) {
			w.Header().Set("Content-Type", contentJSON)
			w.WriteHeader(http.StatusOK)
			s := apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", rv, st.Cache.Rev())).ErrStatus
			s.Kind, s.APIVersion = "Status", "v1"
			_ = json.NewEncoder(w).Encode(watchEvent{Type: watch.Error, Object: s})
			return
		}
		if errors.Is(err, storage.ErrTooLarge) {
			writeError(w, apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d, current: %d", rv, st.Cache.Rev()), 1))
			return
		}
		writeError(w, err)
		return
	}
	defer watcher.Stop()

	ww := newWatchWriter(w, r, st, sel)
	w.Header().Set("Content-Type", contentJSON)
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	for _, e := range events {
		if !strings.HasPrefix(keyOf(st, e), prefix) {
			continue
		}
		if !ww.send(e) {
			return
		}
	}
	if sendInitial {
		ww.bookmark(snapRev, true)
	}
	ww.flush()

	timeout := time.Duration(1800+rand.IntN(1800)) * time.Second
	if ts := q.Get("timeoutSeconds"); ts != "" {
		if n, err := strconv.Atoi(ts); err == nil && n > 0 {
			timeout = time.Duration(n) * time.Second
		}
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		case e, ok := <-watcher.Events():
			if !ok {
				return // the cache dropped us (slow, or restarting): the client resumes from its last RV
			}
			if e.Type == watch.Bookmark {
				if bookmarks {
					ww.bookmark(e.Rev, false)
				}
			} else if e.Key != "" && !strings.HasPrefix(e.Key, prefix) {
				continue
			} else if !ww.send(e) {
				return
			}
			ww.flush()
		}
	}
}

func keyOf(st *registry.Store, e storage.Event) string {
	if e.Key != "" {
		return e.Key
	}
	m, err := meta.Accessor(e.Object)
	if err != nil {
		return ""
	}
	return st.Info.Key(m.GetNamespace(), m.GetName())
}

// watchWriter encodes events for one client: selector filtering (objects
// moving into the selection are ADDED, out of it DELETED) and the Table
// shape for `kubectl get -w`.
type watchWriter struct {
	w       http.ResponseWriter
	r       *http.Request
	st      *registry.Store
	sel     registry.Selectors
	enc     *json.Encoder
	flusher http.Flusher
	shape   shape
	columns bool // column definitions already sent
}

func newWatchWriter(w http.ResponseWriter, r *http.Request, st *registry.Store, sel registry.Selectors) *watchWriter {
	f, _ := w.(http.Flusher)
	return &watchWriter{w: w, r: r, st: st, sel: sel, enc: json.NewEncoder(w), flusher: f, shape: acceptShape(r)}
}

func (ww *watchWriter) send(e storage.Event) bool {
	var now, before bool
	if e.Fields != nil || e.Labels != nil {
		now = registry.MatchesAttrs(e.Labels, e.Fields, ww.sel)
		before = e.Prev != nil && registry.MatchesAttrs(e.PrevLabels, e.PrevFields, ww.sel)
	} else {
		now = ww.st.Matches(e.Object, ww.sel)
		before = e.Prev != nil && ww.st.Matches(e.Prev, ww.sel)
	}
	typ := e.Type
	switch e.Type {
	case watch.Added:
		if !now {
			return true
		}
	case watch.Modified:
		switch {
		case now && !before:
			typ = watch.Added
		case !now && before:
			typ = watch.Deleted
		case !now:
			return true
		}
	case watch.Deleted:
		if !now {
			return true
		}
	}
	return ww.write(typ, e.Object)
}

func (ww *watchWriter) write(typ watch.EventType, obj runtime.Object) bool {
	var out interface{} = obj
	switch ww.shape {
	case shapeTable:
		t, err := buildTable(ww.r, ww.st, []runtime.Object{obj}, metav1.ListMeta{})
		if err != nil {
			return false
		}
		if ww.columns {
			t.ColumnDefinitions = nil
		}
		ww.columns = true
		out = t
	case shapeMetadata:
		out = partialMetadata(obj)
	}
	return ww.enc.Encode(watchEvent{Type: typ, Object: out}) == nil
}

// bookmark sends a BOOKMARK: an empty object of the watched kind carrying
// only a resourceVersion, so an idle client can resume from it.
func (ww *watchWriter) bookmark(rev int64, initialEnd bool) {
	obj := ww.st.Info.NewObject()
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	m.SetResourceVersion(strconv.FormatInt(rev, 10))
	if initialEnd {
		m.SetAnnotations(map[string]string{InitialEventsEnd: "true"})
	}
	var out interface{} = obj
	if ww.shape == shapeMetadata {
		out = partialMetadata(obj)
	}
	_ = ww.enc.Encode(watchEvent{Type: watch.Bookmark, Object: out})
}

func (ww *watchWriter) flush() {
	if ww.flusher != nil {
		ww.flusher.Flush()
	}
}
