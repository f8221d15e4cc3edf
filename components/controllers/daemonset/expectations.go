package daemonset

import (
	"sync"
	"time"
)

// expectationsTimeout: expectations older than this are ignored, so a lost
// watch event cannot stall a DaemonSet forever (upstream's 5 minutes).
const expectationsTimeout = 5 * time.Minute

// expectations remember, per DaemonSet, the pod creations and deletions
// this controller asked for and has not yet seen in its pod informer.
//
// Why: the pod cache lags behind the API server. Right after creating a
// pod for node-1, a second sync would still see node-1 empty and create
// another. So sync leaves pods alone (it only writes status) until the
// informer has shown every create and delete it made, or they expired.
// Unlike the ReplicaSet's, one sync may both create and delete (new nodes
// and removed nodes at once), so both are recorded together.
type expectations struct {
	mu   sync.Mutex
	byDS map[string]*expectation
	now  func() time.Time
}

type expectation struct {
	adds      int
	deletions map[string]bool // pod keys we deleted and have not yet seen go
	at        time.Time
}

func newExpectations(now func() time.Time) *expectations {
	return &expectations{byDS: map[string]*expectation{}, now: now}
}

// satisfied reports whether the DaemonSet may create or delete pods now.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.byDS[key]
	if !ok {
		return true
	}
	return (x.adds <= 0 && len(x.deletions) == 0) || e.now().Sub(x.at) > expectationsTimeout
}

// expect records adds pods about to be created and the pods about to be
// deleted. It must be called before the first API call: the informer may
// report a new pod before Create even returns.
func (e *expectations) expect(key string, adds int, deletions []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{adds: adds, deletions: map[string]bool{}, at: e.now()}
	for _, k := range deletions {
		x.deletions[k] = true
	}
	e.byDS[key] = x
}

// creationObserved counts one creation as seen (or as never coming).
func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byDS[key]; ok {
		x.adds--
	}
}

// deletionObserved counts a pod we deleted as gone (or as never going).
func (e *expectations) deletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byDS[key]; ok {
		delete(x.deletions, podKey)
	}
}

// forget drops a deleted DaemonSet's expectations.
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byDS, key)
}
