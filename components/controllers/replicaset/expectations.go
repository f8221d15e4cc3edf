package replicaset

import (
	"sync"
	"time"
)

// expectationsTimeout: expectations older than this are ignored, so a lost
// watch event cannot stall a ReplicaSet forever (upstream's 5 minutes).
const expectationsTimeout = 5 * time.Minute

// expectations remember, per ReplicaSet, the pod creations and deletions
// this controller asked for and has not yet seen in its pod informer.
//
// Why: the pod cache lags behind the API server. Right after creating 3
// pods, a second sync would still count the old number and create 3 more.
// So sync skips manageReplicas until the informer has shown every create
// and delete it made (or the expectations expired). Deletions are tracked
// by pod key, so only the pods we deleted count down the deletions.
type expectations struct {
	mu   sync.Mutex
	byRS map[string]*expectation
	now  func() time.Time
}

type expectation struct {
	adds      int
	deletions map[string]bool // pod keys we deleted and have not yet seen go
	at        time.Time
}

func newExpectations(now func() time.Time) *expectations {
	return &expectations{byRS: map[string]*expectation{}, now: now}
}

// satisfied reports whether the ReplicaSet may create or delete pods now.
func (e *expectations) satisfied(rsKey string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.byRS[rsKey]
	if !ok {
		return true // never acted on it (or the controller just started)
	}
	return (x.adds <= 0 && len(x.deletions) == 0) || e.now().Sub(x.at) > expectationsTimeout
}

// expectCreations records that n pods are about to be created.
func (e *expectations) expectCreations(rsKey string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byRS[rsKey] = &expectation{adds: n, deletions: map[string]bool{}, at: e.now()}
}

// expectDeletions records the pods about to be deleted.
func (e *expectations) expectDeletions(rsKey string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{deletions: map[string]bool{}, at: e.now()}
	for _, k := range podKeys {
		x.deletions[k] = true
	}
	e.byRS[rsKey] = x
}

// creationObserved counts one pod creation as seen (or as never coming,
// when the create failed or was skipped).
func (e *expectations) creationObserved(rsKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byRS[rsKey]; ok {
		x.adds--
	}
}

// deletionObserved counts a pod we deleted as gone (or as never going).
func (e *expectations) deletionObserved(rsKey, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byRS[rsKey]; ok {
		delete(x.deletions, podKey)
	}
}

// forget drops a deleted ReplicaSet's expectations.
func (e *expectations) forget(rsKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byRS, rsKey)
}
