package probes

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// worker probes one container with one probe, like upstream's
// prober/worker.go.
type worker struct {
	m         *Manager
	key       resultKey
	probe     *corev1.Probe
	container *corev1.Container
	target    Target
	triggerCh chan struct{}

	containerID string
	// onHold: liveness/startup failed; wait for a new container instance.
	onHold     bool
	lastResult bool
	resultRun  int
}

func newWorker(m *Manager, key resultKey, p *corev1.Probe, c *corev1.Container, t Target) *worker {
	return &worker{m: m, key: key, probe: p, container: c, target: t, triggerCh: make(chan struct{}, 1)}
}

func (w *worker) poke() {
	select {
	case w.triggerCh <- struct{}{}:
	default:
	}
}

func (w *worker) run(ctx context.Context) {
	t := time.NewTicker(time.Duration(w.probe.PeriodSeconds) * w.m.opts.TimeUnit)
	defer t.Stop()
	for w.doProbe(ctx) {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.triggerCh:
		}
	}
}

// doProbe runs one round; false stops the worker.
func (w *worker) doProbe(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	st, ok := w.m.opts.State(w.key.pod, w.key.container)
	if !ok {
		return true // not created yet
	}
	if st.ID != w.containerID {
		// A new instance: start over from the kind's initial value
		// (readiness: not ready; liveness: alive; startup: not started).
		w.containerID = st.ID
		w.onHold = false
		w.resultRun = 0
		if w.key.kind != Startup {
			w.m.set(w.key, st.ID, w.key.kind == Liveness, "")
		}
	}
	if w.onHold {
		return true
	}
	if !st.Running {
		if w.key.kind == Readiness {
			w.m.set(w.key, st.ID, false, "container is not running")
		}
		return !st.Final
	}
	if time.Since(st.StartedAt) < time.Duration(w.probe.InitialDelaySeconds)*w.m.opts.TimeUnit {
		return true
	}
	started, _ := w.m.Status(w.key.pod, w.key.container, w.containerID)
	if started == (w.key.kind == Startup) {
		// Startup probes stop once started; the others wait for it.
		return true
	}

	out, err := Run(ctx, w.probe, w.container, w.target)
	if err != nil {
		if ctx.Err() == nil {
			w.m.opts.Log.Warn("probe error", "pod", w.key.pod, "container", w.key.container, "probe", w.key.kind, "err", err)
		}
		return true // prober errors are not counted
	}
	if ctx.Err() != nil {
		return false
	}
	if !out.Success && w.m.opts.OnFailure != nil {
		w.m.opts.OnFailure(Result{PodUID: w.key.pod, Container: w.key.container, ContainerID: w.containerID,
			Kind: w.key.kind, Message: out.Message})
	}
	if w.resultRun > 0 && w.lastResult == out.Success {
		w.resultRun++
	} else {
		w.lastResult, w.resultRun = out.Success, 1
	}
	if (!out.Success && w.resultRun < int(w.probe.FailureThreshold)) || (out.Success && w.resultRun < int(w.probe.SuccessThreshold)) {
		return true
	}
	w.m.set(w.key, w.containerID, out.Success, out.Message)
	if !out.Success && w.key.kind != Readiness {
		// The container will be restarted; stop until a new one appears.
		w.onHold = true
		w.resultRun = 0
	}
	return true
}
