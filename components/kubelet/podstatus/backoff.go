package podstatus

import (
	"fmt"
	"sync"
	"time"
)

// CrashLoopBackOff timing, as upstream: 10s, doubling, capped at 5 minutes;
// a container that stays up longer than 2×max (10 minutes) since the last
// back-off starts again from 10s.
const (
	BackoffInitial = 10 * time.Second
	BackoffMax     = 300 * time.Second
	backoffReset   = 2 * BackoffMax
)

// CrashLoopDelay is the delay before restart number n (n = 1 for the first
// restart): 10s, 20s, 40s, … capped at 300s.
func CrashLoopDelay(n int) time.Duration {
	d := BackoffInitial
	for i := 1; i < n && d < BackoffMax; i++ {
		d *= 2
	}
	return min(d, BackoffMax)
}

// CrashLoopMessage is the waiting message shown with CrashLoopBackOff,
// e.g. "back-off 20s restarting failed container=app pod=web_default(uid)".
func CrashLoopMessage(delay time.Duration, container, podName, namespace, uid string) string {
	return fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", delay, container, podName, namespace, uid)
}

// Backoff tracks per-container restart back-off like upstream's
// flowcontrol.Backoff as the kubelet uses it (doBackOff): the clock starts
// at the container's finish time.
//
// Usage on each sync of a dead container:
//
//	if d, wait := b.InBackoff(key, finishedAt); wait { report CrashLoopBackOff(d) }
//	else { b.Next(key, finishedAt); start the container }
type Backoff struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu      sync.Mutex
	entries map[string]backoffEntry
}

type backoffEntry struct {
	delay      time.Duration
	lastUpdate time.Time
}

func (b *Backoff) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// BackoffKey identifies one container of one pod.
func BackoffKey(podUID, container string) string { return podUID + "/" + container }

// InBackoff reports whether a container that finished at finishedAt must
// still wait, and the current delay for the message.
func (b *Backoff) InBackoff(key string, finishedAt time.Time) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || b.now().Sub(e.lastUpdate) > backoffReset {
		return 0, false
	}
	return e.delay, b.now().Sub(finishedAt) < e.delay
}

// Next records a restart of the container that finished at finishedAt and
// returns the delay the following crash will have to wait: doubled, or
// reset to 10s when the container had run undisturbed for 10 minutes.
func (b *Backoff) Next(key string, finishedAt time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.entries == nil {
		b.entries = map[string]backoffEntry{}
	}
	e, ok := b.entries[key]
	if !ok || finishedAt.Sub(e.lastUpdate) > backoffReset {
		e.delay = BackoffInitial
	} else {
		e.delay = min(e.delay*2, BackoffMax)
	}
	e.lastUpdate = finishedAt
	b.entries[key] = e
	return e.delay
}

// Forget drops a container's history (pod deleted).
func (b *Backoff) Forget(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.entries, key)
}

// GC drops entries untouched for longer than the reset window.
func (b *Backoff) GC() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, e := range b.entries {
		if b.now().Sub(e.lastUpdate) > backoffReset {
			delete(b.entries, k)
		}
	}
}
