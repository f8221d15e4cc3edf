package probes

import (
	"context"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Kind is which probe a result belongs to.
type Kind string

const (
	Liveness  Kind = "liveness"
	Readiness Kind = "readiness"
	Startup   Kind = "startup"
)

// Result is a probe verdict that crossed its threshold and changed. The
// kubelet restarts a container on a liveness (or startup) failure and
// recomputes Ready on readiness changes. ContainerID says which instance
// the result is about, so a late result for a replaced container can be
// ignored.
type Result struct {
	PodUID      string
	Container   string
	ContainerID string
	Kind        Kind
	Success     bool
	Message     string
}

// ContainerState is what a worker needs to know about a container.
type ContainerState struct {
	// ID changes when the container is restarted; probing starts over.
	ID        string
	Running   bool
	StartedAt time.Time
	// Exited and will not be restarted (restartPolicy): the worker stops.
	Final bool
}

// Options configure a Manager.
type Options struct {
	// State reports a container's current state (from the runtime); ok is
	// false while the container does not exist yet.
	State func(podUID, container string) (ContainerState, bool)
	// OnResult receives every change of a thresholded result. It is called
	// from worker goroutines and must not block for long.
	OnResult func(Result)
	// OnFailure receives every probe run that failed, below the threshold
	// too: the real kubelet records an Unhealthy event for each one (the
	// event recorder counts repeats: "x5 over 10s"). Synthetic results (a
	// new container starting unready, a stopped one) are not failures.
	OnFailure func(Result)
	// TimeUnit is the length of one "second" of periodSeconds and
	// initialDelaySeconds (time.Second when zero); tests shrink it.
	// timeoutSeconds always means real seconds.
	TimeUnit time.Duration
	Log      *slog.Logger
}

// Manager runs probe workers and remembers their latest results.
type Manager struct {
	opts   Options
	mu     sync.Mutex
	pods   map[string]*podWorkers
	cache  map[resultKey]cached
	wg     sync.WaitGroup
	parent context.Context
	stop   context.CancelFunc
}

type podWorkers struct {
	cancel  context.CancelFunc
	workers map[resultKey]*worker
}

type resultKey struct {
	pod, container string
	kind           Kind
}

type cached struct {
	containerID string
	success     bool
}

// NewManager returns a Manager; Stop ends all its workers.
func NewManager(opts Options) *Manager {
	if opts.TimeUnit <= 0 {
		opts.TimeUnit = time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{opts: opts, pods: map[string]*podWorkers{}, cache: map[resultKey]cached{}, parent: ctx, stop: cancel}
}

// AddPod starts workers for every probe of the pod's containers (and its
// sidecars: restartable init containers) unless already running. target
// gives each container's probe target (pod IP, exec function).
func (m *Manager) AddPod(pod *corev1.Pod, target func(c *corev1.Container) Target) {
	uid := string(pod.UID)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.pods[uid]; ok {
		return
	}
	ctx, cancel := context.WithCancel(m.parent)
	pw := &podWorkers{cancel: cancel, workers: map[resultKey]*worker{}}
	m.pods[uid] = pw
	var containers []*corev1.Container
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			containers = append(containers, c)
		}
	}
	for i := range pod.Spec.Containers {
		containers = append(containers, &pod.Spec.Containers[i])
	}
	for _, c := range containers {
		for kind, p := range map[Kind]*corev1.Probe{Liveness: c.LivenessProbe, Readiness: c.ReadinessProbe, Startup: c.StartupProbe} {
			if p == nil {
				continue
			}
			key := resultKey{uid, c.Name, kind}
			w := newWorker(m, key, withDefaults(p, kind), c.DeepCopy(), target(c))
			pw.workers[key] = w
		}
	}
	for _, w := range pw.workers {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			w.run(ctx)
		}()
	}
}

// RemovePod stops the pod's workers and forgets its results.
func (m *Manager) RemovePod(podUID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if pw, ok := m.pods[podUID]; ok {
		pw.cancel()
		delete(m.pods, podUID)
	}
	for k := range m.cache {
		if k.pod == podUID {
			delete(m.cache, k)
		}
	}
}

// Stop ends every worker and waits for them.
func (m *Manager) Stop() {
	m.stop()
	m.wg.Wait()
}

// Status says whether the container (instance containerID) has started
// and is ready as far as probes are concerned: a container without a
// startup probe is started, one without a readiness probe is ready once
// started. The caller still ANDs both with "running".
func (m *Manager) Status(podUID, container, containerID string) (started, ready bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	started = m.passedLocked(podUID, container, containerID, Startup)
	ready = started && m.passedLocked(podUID, container, containerID, Readiness)
	return started, ready
}

// passedLocked: no probe of this kind, or its latest result for this
// container instance is success.
func (m *Manager) passedLocked(podUID, container, containerID string, kind Kind) bool {
	key := resultKey{podUID, container, kind}
	pw, ok := m.pods[podUID]
	if !ok || pw.workers[key] == nil {
		return true
	}
	c, ok := m.cache[key]
	return ok && c.containerID == containerID && c.success
}

// set records a thresholded result and publishes it when it changed.
func (m *Manager) set(key resultKey, containerID string, success bool, msg string) {
	m.mu.Lock()
	prev, ok := m.cache[key]
	_, alive := m.pods[key.pod]
	changed := alive && (!ok || prev.containerID != containerID || prev.success != success)
	if changed {
		m.cache[key] = cached{containerID: containerID, success: success}
	}
	var trigger []*worker
	if changed && key.kind == Startup && success {
		// A started container gets its first readiness/liveness probe now,
		// not a period later.
		for _, k := range []Kind{Readiness, Liveness} {
			if w := m.pods[key.pod].workers[resultKey{key.pod, key.container, k}]; w != nil {
				trigger = append(trigger, w)
			}
		}
	}
	m.mu.Unlock()
	for _, w := range trigger {
		w.poke()
	}
	if changed && m.opts.OnResult != nil {
		m.opts.OnResult(Result{PodUID: key.pod, Container: key.container, ContainerID: containerID, Kind: key.kind, Success: success, Message: msg})
	}
}

// withDefaults applies the API defaults to unset probe fields.
func withDefaults(p *corev1.Probe, kind Kind) *corev1.Probe {
	p = p.DeepCopy()
	if p.PeriodSeconds <= 0 {
		p.PeriodSeconds = 10
	}
	if p.TimeoutSeconds <= 0 {
		p.TimeoutSeconds = 1
	}
	if p.SuccessThreshold <= 0 || kind != Readiness {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold <= 0 {
		p.FailureThreshold = 3
	}
	return p
}
