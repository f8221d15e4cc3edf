package job

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
)

// expectationsTTL: an expectation not met after this long is dropped, so a
// lost watch event cannot stall a Job forever (upstream's ExpectationsTimeout).
const expectationsTTL = 5 * time.Minute

// expectations remember what this controller asked the API server to do
// and has not yet seen come back through the pod informer.
//
// The informer cache lags behind our own writes. Right after creating two
// pods, a second sync would still see zero pods in the cache and create two
// more. So a sync that creates or deletes pods records how many it expects
// to see; the pod event handlers count them off; and sync does not manage
// pods again until the count reaches zero (or the record is too old).
//
// Finalizer removals are tracked by pod UID for the same reason: a pod whose
// finalizer we removed (and whose result we then counted in the Job status)
// may still show the finalizer in the cache, and must not be counted twice.
type expectations struct {
	mu  sync.Mutex
	now func() time.Time
	// pods: outstanding pod creations and deletions per Job key.
	pods map[string]*podExpectation
	// finalizers: UIDs of pods whose finalizer removal is in flight, per Job key.
	finalizers map[string]sets.Set[string]
}

type podExpectation struct {
	adds, dels int
	at         time.Time
}

func newExpectations(now func() time.Time) *expectations {
	return &expectations{now: now, pods: map[string]*podExpectation{}, finalizers: map[string]sets.Set[string]{}}
}

// satisfied reports whether every pod creation and deletion for key has
// been observed (or the record expired), so the cache can be trusted.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.pods[key]
	if !ok {
		return true
	}
	return (p.adds <= 0 && p.dels <= 0) || e.now().Sub(p.at) > expectationsTTL
}

// expect records that adds pods will appear and dels will go for key.
// It replaces any earlier record: sync only calls it when satisfied.
func (e *expectations) expect(key string, adds, dels int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pods[key] = &podExpectation{adds: adds, dels: dels, at: e.now()}
}

// created and deleted count one observed (or failed) creation/deletion off.
func (e *expectations) created(key string) { e.lower(key, 1, 0) }
func (e *expectations) deleted(key string) { e.lower(key, 0, 1) }

func (e *expectations) lower(key string, adds, dels int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.pods[key]; ok {
		p.adds -= adds
		p.dels -= dels
	}
}

// expectFinalizersRemoved records UIDs whose finalizer is being removed.
func (e *expectations) expectFinalizersRemoved(key string, uids []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.finalizers[key]
	if !ok {
		s = sets.New[string]()
		e.finalizers[key] = s
	}
	s.Insert(uids...)
}

// finalizerRemoved is called when a pod shows up without the finalizer, is
// deleted, or the removal failed.
func (e *expectations) finalizerRemoved(key, uid string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.finalizers[key]; ok {
		s.Delete(uid)
		if s.Len() == 0 {
			delete(e.finalizers, key)
		}
	}
}

// pendingFinalizers returns a copy of the UIDs still expected for key.
func (e *expectations) pendingFinalizers(key string) sets.Set[string] {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.finalizers[key].Clone()
}

// forget drops everything about key (the Job is gone).
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.pods, key)
	delete(e.finalizers, key)
}
