// Package expectations remembers, per owner (a ReplicaSet, a DaemonSet),
// the pod creations and deletions a controller asked for and has not yet
// seen in its pod informer.
//
// Why: the informer's cache lags behind the API server. Right after
// creating 3 pods, a second sync would still count the old number and
// create 3 more. So a controller records what it is about to do, its pod
// event handlers count those writes down as they show up, and sync leaves
// the pods alone until every one was seen (or the record expired, so a lost
// event cannot stall an owner forever). Deletions are tracked by pod key,
// so only the pods the controller deleted count them down. This is
// upstream's ControllerExpectations / UIDTrackingControllerExpectations in
// one small type.
package expectations

import (
	"sync"
	"time"
)

// Timeout: expectations older than this are ignored (upstream's 5 minutes).
const Timeout = 5 * time.Minute

// Expectations is safe for concurrent use by workers and event handlers.
type Expectations struct {
	mu      sync.Mutex
	byOwner map[string]*expectation
	// Now is the clock, replaceable in tests.
	Now func() time.Time
}

type expectation struct {
	adds      int
	deletions map[string]bool // pod keys deleted and not yet seen gone
	at        time.Time
}

// New returns empty expectations on the given clock.
func New(now func() time.Time) *Expectations {
	return &Expectations{byOwner: map[string]*expectation{}, Now: now}
}

// Satisfied reports whether the owner may create or delete pods now.
func (e *Expectations) Satisfied(owner string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.byOwner[owner]
	if !ok {
		return true // never acted on it (or the controller just started)
	}
	return (x.adds <= 0 && len(x.deletions) == 0) || e.Now().Sub(x.at) > Timeout
}

// Expect records adds pods about to be created and the pods (by key)
// about to be deleted, replacing what was expected before. Call it before
// the first API call: the informer may report a new pod before Create
// even returns.
func (e *Expectations) Expect(owner string, adds int, deletions []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{adds: adds, deletions: map[string]bool{}, at: e.Now()}
	for _, k := range deletions {
		x.deletions[k] = true
	}
	e.byOwner[owner] = x
}

// CreationObserved counts one creation as seen (or as never coming, when
// the create failed or was skipped).
func (e *Expectations) CreationObserved(owner string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byOwner[owner]; ok {
		x.adds--
	}
}

// DeletionObserved counts a pod the owner deleted as gone (or as never
// going).
func (e *Expectations) DeletionObserved(owner, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byOwner[owner]; ok {
		delete(x.deletions, podKey)
	}
}

// Pending returns the creations and deletions still awaited for owner.
func (e *Expectations) Pending(owner string) (adds, deletions int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byOwner[owner]; ok {
		return x.adds, len(x.deletions)
	}
	return 0, 0
}

// Forget drops a deleted owner's expectations.
func (e *Expectations) Forget(owner string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byOwner, owner)
}
