package scheduler

import (
	"container/heap"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/kubelab/kubelab/components/scheduler/framework"
)

// QueuedPod is a pending pod with its scheduling history.
type QueuedPod struct {
	*framework.PodInfo
	// Timestamp is when the pod last entered the queue: the tie-breaker
	// after priority, so a pod that just failed goes behind the others.
	Timestamp time.Time
	// InitialAttempt is when it was first popped (for the SLI metric).
	InitialAttempt time.Time
	Attempts       int
	// UnschedulablePlugins are the plugins that rejected it last time:
	// only an event that could change their mind moves it back.
	UnschedulablePlugins sets.Set[string]
	index                int
}

// Key is namespace/name.
func (q *QueuedPod) Key() string { return q.Pod.Namespace + "/" + q.Pod.Name }

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

// Queue holds the pods waiting for a node, in three parts as upstream's
// scheduling queue does:
//
//	        add ─▶ activeQ (heap: priority, then time) ─▶ Pop ─▶ scheduling cycle
//	                  ▲           ▲                                   │ failed
//	backoff expired ──┘           │ cluster event that may help       ▼
//	    backoffQ ◀── event, still backing off ── unschedulablePods ◀──┘
//	                                               (or after maxUnschedulable)
//
// A failed pod waits in unschedulablePods until something happens that
// could make it fit (a node added, a pod deleted), then goes back through
// backoffQ: 1s after the first failure, doubling up to 10s, so a pod that
// keeps failing cannot hog the scheduler.
type Queue struct {
	mu            sync.Mutex
	cond          *sync.Cond
	active        podHeap
	backoff       podHeap
	unschedulable map[string]*QueuedPod
	inFlight      map[string]bool
	// schedulingCycle counts Pops; moveRequestCycle is the cycle during
	// which the last move event came. A pod that fails in a cycle at or
	// before it may have missed that event, so it goes to backoffQ rather
	// than waiting for another.
	schedulingCycle, moveRequestCycle int64

	initialBackoff, maxBackoff, maxUnschedulable time.Duration
	now                                          func() time.Time
	closed                                       bool
}

// NewQueue makes a queue with upstream's defaults (1s..10s back-off); pods
// sit at most maxUnschedulable in unschedulablePods.
func NewQueue(initialBackoff, maxBackoff, maxUnschedulable time.Duration) *Queue {
	q := &Queue{
		active:        podHeap{less: activeLess},
		unschedulable: map[string]*QueuedPod{}, inFlight: map[string]bool{},
		initialBackoff: initialBackoff, maxBackoff: maxBackoff, maxUnschedulable: maxUnschedulable,
		now: time.Now, moveRequestCycle: -1,
	}
	q.backoff = podHeap{less: func(a, b *QueuedPod) bool { return q.backoffExpiry(a).Before(q.backoffExpiry(b)) }}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func activeLess(a, b *QueuedPod) bool {
	pa, pb := priority(a.Pod), priority(b.Pod)
	if pa != pb {
		return pa > pb
	}
	return a.Timestamp.Before(b.Timestamp)
}

func priority(p *corev1.Pod) int32 {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority
	}
	return 0
}

// backoffDuration is initial·2^(attempts-1), at most max.
func (q *Queue) backoffDuration(p *QueuedPod) time.Duration {
	d := q.initialBackoff
	for i := 1; i < p.Attempts; i++ {
		d *= 2
		if d > q.maxBackoff {
			return q.maxBackoff
		}
	}
	return d
}

func (q *Queue) backoffExpiry(p *QueuedPod) time.Time { return p.Timestamp.Add(q.backoffDuration(p)) }

// Add queues a new pending pod (or updates it if queued).
func (q *Queue) Add(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.updateLocked(pod) {
		return
	}
	if q.inFlight[podKey(pod)] {
		return
	}
	heap.Push(&q.active, &QueuedPod{PodInfo: framework.NewPodInfo(pod), Timestamp: q.now()})
	q.cond.Broadcast()
}

// Update replaces a queued pod's object. A pod parked as unschedulable
// whose spec or labels changed gets another try at once (the user may have
// fixed it).
func (q *Queue) Update(pod *corev1.Pod) {
	q.Add(pod)
}

func (q *Queue) updateLocked(pod *corev1.Pod) bool {
	key := podKey(pod)
	if p := q.active.get(key); p != nil {
		p.PodInfo = framework.NewPodInfo(pod)
		heap.Fix(&q.active, p.index)
		return true
	}
	if p := q.backoff.get(key); p != nil {
		p.PodInfo = framework.NewPodInfo(pod)
		return true
	}
	if p, ok := q.unschedulable[key]; ok {
		changed := !equality.Semantic.DeepEqual(p.Pod.Spec, pod.Spec) || !equality.Semantic.DeepEqual(p.Pod.Labels, pod.Labels)
		p.PodInfo = framework.NewPodInfo(pod)
		if changed {
			delete(q.unschedulable, key)
			q.requeueLocked(p)
		}
		return true
	}
	return false
}

// Delete removes a pod from the queue.
func (q *Queue) Delete(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(pod)
	q.active.remove(key)
	q.backoff.remove(key)
	delete(q.unschedulable, key)
}

// Pop waits for a pod in activeQ and hands it to a scheduling cycle; ok is
// false once the queue is closed. Call Done when the cycle is over.
func (q *Queue) Pop() (p *QueuedPod, cycle int64, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.active.Len() == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil, 0, false
	}
	p = heap.Pop(&q.active).(*QueuedPod)
	q.schedulingCycle++
	p.Attempts++
	if p.InitialAttempt.IsZero() {
		p.InitialAttempt = q.now()
	}
	q.inFlight[p.Key()] = true
	return p, q.schedulingCycle, true
}

// Done ends a pod's scheduling cycle.
func (q *Queue) Done(p *QueuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, p.Key())
}

// AddUnschedulable parks a pod that failed in cycle. If an event that may
// help came during or after that cycle, it goes to backoffQ instead; so
// does a pod that failed with an error rather than a rejection (plugins
// empty).
func (q *Queue) AddUnschedulable(p *QueuedPod, cycle int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := p.Key()
	delete(q.inFlight, key)
	if q.active.get(key) != nil || q.backoff.get(key) != nil || q.unschedulable[key] != nil {
		return // the pod was updated meanwhile and queued afresh
	}
	p.Timestamp = q.now()
	if q.moveRequestCycle >= cycle || len(p.UnschedulablePlugins) == 0 {
		heap.Push(&q.backoff, p)
		return
	}
	q.unschedulable[key] = p
}

// requeueLocked moves a pod to backoffQ if it is still backing off, else to
// activeQ.
func (q *Queue) requeueLocked(p *QueuedPod) {
	if q.now().Before(q.backoffExpiry(p)) {
		heap.Push(&q.backoff, p)
		return
	}
	p.Timestamp = q.now()
	heap.Push(&q.active, p)
	q.cond.Broadcast()
}

// MoveAll requeues the unschedulable pods that one of plugins rejected
// (all of them if plugins is nil): a cluster event may have changed their
// verdict.
func (q *Queue) MoveAll(plugins sets.Set[string]) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for key, p := range q.unschedulable {
		if plugins != nil && !plugins.HasAny(p.UnschedulablePlugins.UnsortedList()...) {
			continue
		}
		delete(q.unschedulable, key)
		q.requeueLocked(p)
	}
	q.moveRequestCycle = q.schedulingCycle
}

// Flush moves pods whose back-off expired to activeQ, and pods parked
// longer than maxUnschedulable back to the queue. The scheduler calls it
// every second.
func (q *Queue) Flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	for q.backoff.Len() > 0 && !now.Before(q.backoffExpiry(q.backoff.items[0])) {
		p := heap.Pop(&q.backoff).(*QueuedPod)
		p.Timestamp = now
		heap.Push(&q.active, p)
		q.cond.Broadcast()
	}
	for key, p := range q.unschedulable {
		if now.Sub(p.Timestamp) > q.maxUnschedulable {
			delete(q.unschedulable, key)
			q.requeueLocked(p)
		}
	}
}

// Close wakes Pop's callers with ok=false.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// Lengths reports the pods in each part, as scheduler_pending_pods does.
func (q *Queue) Lengths() (active, backoff, unschedulable int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backoff.Len(), len(q.unschedulable)
}

// podHeap is a heap of pods with an index by key.
type podHeap struct {
	items []*QueuedPod
	keys  map[string]*QueuedPod
	less  func(a, b *QueuedPod) bool
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}
func (h *podHeap) Push(x any) {
	p := x.(*QueuedPod)
	if h.keys == nil {
		h.keys = map[string]*QueuedPod{}
	}
	p.index = len(h.items)
	h.items = append(h.items, p)
	h.keys[p.Key()] = p
}
func (h *podHeap) Pop() any {
	p := h.items[len(h.items)-1]
	h.items[len(h.items)-1] = nil
	h.items = h.items[:len(h.items)-1]
	delete(h.keys, p.Key())
	return p
}
func (h *podHeap) get(key string) *QueuedPod { return h.keys[key] }
func (h *podHeap) remove(key string) {
	if p, ok := h.keys[key]; ok {
		heap.Remove(h, p.index)
	}
}
