package kubelet

import (
	"context"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// podWorkers gives every pod on the node its own goroutine, like the real
// kubelet's pod workers: events about a pod (the API object changed, a
// container exited, a probe failed, a back-off expired) only wake its
// worker, and the worker runs one sync at a time. A slow image pull for one
// pod never delays another pod.
type podWorkers struct {
	k       *Kubelet
	mu      sync.Mutex
	workers map[types.UID]*podWorker
	wg      sync.WaitGroup
}

type podWorker struct {
	uid  types.UID
	kick chan struct{}

	mu sync.Mutex
	// pod is the newest copy from the API; gone is set when the API no
	// longer has it (deleted, or it never was ours after a restart).
	pod  *corev1.Pod
	gone bool
	// wake is when a back-off ends; the worker syncs then without an event.
	wake time.Time

	// state is owned by the worker goroutine.
	state *podState
}

func newPodWorkers(k *Kubelet) *podWorkers {
	return &podWorkers{k: k, workers: map[types.UID]*podWorker{}}
}

// update hands a pod (new or changed) to its worker, starting one if needed.
func (p *podWorkers) update(ctx context.Context, pod *corev1.Pod) {
	w := p.worker(ctx, pod.UID, pod)
	w.mu.Lock()
	w.pod, w.gone = pod, false
	w.mu.Unlock()
	w.poke()
}

// forget tells a pod's worker the API no longer has the pod.
func (p *podWorkers) forget(uid types.UID) {
	p.mu.Lock()
	w := p.workers[uid]
	p.mu.Unlock()
	if w == nil {
		return
	}
	w.mu.Lock()
	w.gone = true
	w.mu.Unlock()
	w.poke()
}

// orphan starts a worker for a pod the runtime has but the API does not
// (left over from before a restart), so it gets torn down.
func (p *podWorkers) orphan(ctx context.Context, uid types.UID) {
	w := p.worker(ctx, uid, nil)
	w.mu.Lock()
	if w.pod == nil {
		w.gone = true
	}
	w.mu.Unlock()
	w.poke()
}

// poke wakes the worker of uid, if any.
func (p *podWorkers) poke(uid types.UID) {
	p.mu.Lock()
	w := p.workers[uid]
	p.mu.Unlock()
	if w != nil {
		w.poke()
	}
}

func (p *podWorkers) pokeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.workers {
		w.poke()
	}
}

func (p *podWorkers) worker(ctx context.Context, uid types.UID, pod *corev1.Pod) *podWorker {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w := p.workers[uid]; w != nil {
		return w
	}
	w := &podWorker{uid: uid, kick: make(chan struct{}, 1), pod: pod, state: newPodState(uid)}
	p.workers[uid] = w
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.loop(ctx, w)
	}()
	return w
}

func (w *podWorker) poke() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// wakeAt asks for a sync at t (the earliest wins).
func (w *podWorker) wakeAt(t time.Time) {
	w.mu.Lock()
	if w.wake.IsZero() || t.Before(w.wake) {
		w.wake = t
	}
	w.mu.Unlock()
}

// loop runs syncs for one pod until the pod is gone from the API and its
// sandbox is torn down.
func (p *podWorkers) loop(ctx context.Context, w *podWorker) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		w.mu.Lock()
		pod, gone := w.pod, w.gone
		w.wake = time.Time{}
		w.mu.Unlock()

		done := p.k.syncPod(ctx, w, pod, gone)
		if done {
			p.mu.Lock()
			// An update may have arrived during the final sync: if the pod
			// is back (a new object with the same UID cannot happen, but an
			// update event racing the delete can), keep going.
			w.mu.Lock()
			stillGone := w.gone
			w.mu.Unlock()
			if stillGone {
				delete(p.workers, w.uid)
				p.mu.Unlock()
				slog.Debug("pod worker finished", "uid", w.uid)
				return
			}
			p.mu.Unlock()
		}

		w.mu.Lock()
		next := p.k.o.SyncFrequency
		if !w.wake.IsZero() {
			next = min(next, time.Until(w.wake))
		}
		w.mu.Unlock()
		timer.Reset(max(next, time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-timer.C:
		}
	}
}

// wait blocks until every worker has returned (after ctx ends).
func (p *podWorkers) wait() { p.wg.Wait() }
