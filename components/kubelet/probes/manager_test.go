package probes

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const unit = 5 * time.Millisecond

// fakeNode is the kubelet side of the manager in tests: container states
// and exec results it controls, results it records.
type fakeNode struct {
	mu      sync.Mutex
	states  map[string]ContainerState
	exit    map[string]*atomic.Int32 // command -> exit code
	calls   map[string]*atomic.Int32
	results []Result
	// failures: every failed probe run (OnFailure).
	failures []Result
}

func newFakeNode() *fakeNode {
	return &fakeNode{states: map[string]ContainerState{}, exit: map[string]*atomic.Int32{}, calls: map[string]*atomic.Int32{}}
}

func (f *fakeNode) cmd(name string, code int32) {
	f.exit[name] = &atomic.Int32{}
	f.exit[name].Store(code)
	f.calls[name] = &atomic.Int32{}
}

func (f *fakeNode) setState(container string, s ContainerState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[container] = s
}

func (f *fakeNode) state(_, container string) (ContainerState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.states[container]
	return s, ok
}

func (f *fakeNode) exec(_ context.Context, cmd []string, _ time.Duration) (int, []byte, error) {
	f.calls[cmd[0]].Add(1)
	return int(f.exit[cmd[0]].Load()), []byte(cmd[0]), nil
}

func (f *fakeNode) onResult(r Result) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.results = append(f.results, r)
}

func (f *fakeNode) onFailure(r Result) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, r)
}

func (f *fakeNode) failureCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.failures)
}

func (f *fakeNode) resultsOf(kind Kind) []Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Result
	for _, r := range f.results {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

func execProbe(cmd string, period, failures int32) *corev1.Probe {
	return &corev1.Probe{PeriodSeconds: period, FailureThreshold: failures,
		ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{cmd}}}}
}

func startManager(t *testing.T, f *fakeNode, pod *corev1.Pod) *Manager {
	m := NewManager(Options{State: f.state, OnResult: f.onResult, OnFailure: f.onFailure, TimeUnit: unit})
	t.Cleanup(m.Stop)
	m.AddPod(pod, func(*corev1.Container) Target { return Target{Exec: f.exec} })
	return m
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(unit)
	}
}

func podWith(containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "u1"}, Spec: corev1.PodSpec{Containers: containers}}
}

// TestFailuresAreProbeRuns: OnFailure (the kubelet's Unhealthy events)
// fires for every failed run, below the threshold too, and never for the
// synthetic "a new container starts unready".
func TestFailuresAreProbeRuns(t *testing.T) {
	f := newFakeNode()
	f.cmd("check", 1)
	startManager(t, f, podWith(corev1.Container{Name: "c", ReadinessProbe: execProbe("check", 1, 100)}))
	f.setState("c", ContainerState{ID: "id1", Running: true, StartedAt: time.Now()})
	eventually(t, "3 failed runs", func() bool { return f.failureCount() >= 3 })
	if rs := f.resultsOf(Readiness); len(rs) != 1 || rs[0].Success {
		t.Errorf("thresholded results %+v, want the one initial not-ready (threshold 100 not reached)", rs)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.failures {
		if r.Success || r.Message != "check" || r.ContainerID != "id1" || r.Kind != Readiness {
			t.Errorf("failure %+v, want the probe's output %q for id1", r, "check")
		}
	}
}

func TestReadiness(t *testing.T) {
	f := newFakeNode()
	f.cmd("ready", 1)
	m := startManager(t, f, podWith(corev1.Container{Name: "c", ReadinessProbe: execProbe("ready", 1, 2)}))

	if _, ready := m.Status("u1", "c", "id1"); ready {
		t.Fatal("ready before any probe")
	}
	f.setState("c", ContainerState{ID: "id1", Running: true, StartedAt: time.Now()})
	eventually(t, "initial not-ready result", func() bool { return len(f.resultsOf(Readiness)) >= 1 })
	f.exit["ready"].Store(0)
	eventually(t, "ready", func() bool { _, r := m.Status("u1", "c", "id1"); return r })
	// The cache changes before OnResult is called: wait for the result too.
	eventually(t, "a ready result", func() bool { rs := f.resultsOf(Readiness); return len(rs) > 0 && rs[len(rs)-1].Success })
	rs := f.resultsOf(Readiness)
	if rs[0].Success || !rs[len(rs)-1].Success || rs[len(rs)-1].ContainerID != "id1" || rs[len(rs)-1].Message != "ready" {
		t.Errorf("results = %+v", rs)
	}
	// Two failures (the threshold) make it unready again.
	f.exit["ready"].Store(1)
	eventually(t, "unready", func() bool { _, r := m.Status("u1", "c", "id1"); return !r })
	// A stopped container is not ready; a restarted one starts unready.
	f.setState("c", ContainerState{ID: "id2", Running: true, StartedAt: time.Now()})
	if _, r := m.Status("u1", "c", "id2"); r {
		t.Error("new instance ready at once")
	}
}

func TestLivenessFailureHoldsUntilRestart(t *testing.T) {
	f := newFakeNode()
	f.cmd("live", 1)
	m := startManager(t, f, podWith(corev1.Container{Name: "c", LivenessProbe: execProbe("live", 1, 3)}))
	f.setState("c", ContainerState{ID: "id1", Running: true, StartedAt: time.Now()})
	eventually(t, "liveness failure", func() bool {
		rs := f.resultsOf(Liveness)
		return len(rs) > 0 && !rs[len(rs)-1].Success
	})
	if n := f.calls["live"].Load(); n < 3 {
		t.Errorf("failed after %d probes, threshold 3", n)
	}
	calls := f.calls["live"].Load()
	time.Sleep(10 * unit)
	if f.calls["live"].Load() != calls {
		t.Error("probing continued on hold")
	}
	if n := len(f.resultsOf(Liveness)); n != 2 { // initial success, then the failure
		t.Errorf("liveness results = %+v", f.resultsOf(Liveness))
	}
	f.exit["live"].Store(0)
	f.setState("c", ContainerState{ID: "id2", Running: true, StartedAt: time.Now()})
	eventually(t, "probing the new instance", func() bool { return f.calls["live"].Load() > calls })
	rs := f.resultsOf(Liveness)
	if last := rs[len(rs)-1]; !last.Success || last.ContainerID != "id2" {
		t.Errorf("last = %+v", last)
	}
	_ = m
}

func TestStartupGatesOthers(t *testing.T) {
	f := newFakeNode()
	f.cmd("start", 1)
	f.cmd("live", 0)
	f.cmd("ready", 0)
	slow := execProbe("live", 1000, 1) // only the startup trigger can run it soon
	m := startManager(t, f, podWith(corev1.Container{Name: "c",
		StartupProbe: execProbe("start", 1, 1000), LivenessProbe: slow, ReadinessProbe: execProbe("ready", 1000, 1)}))
	f.setState("c", ContainerState{ID: "id1", Running: true, StartedAt: time.Now()})
	time.Sleep(10 * unit)
	if f.calls["live"].Load() != 0 || f.calls["ready"].Load() != 0 {
		t.Fatal("liveness/readiness ran before startup succeeded")
	}
	if s, _ := m.Status("u1", "c", "id1"); s {
		t.Fatal("started before the startup probe passed")
	}
	f.exit["start"].Store(0)
	eventually(t, "started and ready", func() bool { s, r := m.Status("u1", "c", "id1"); return s && r })
	eventually(t, "liveness probed", func() bool { return f.calls["live"].Load() > 0 })
	n := f.calls["start"].Load()
	time.Sleep(10 * unit)
	if f.calls["start"].Load() != n {
		t.Error("startup probe kept running after success")
	}
}

func TestInitialDelayAndNoProbes(t *testing.T) {
	f := newFakeNode()
	f.cmd("ready", 0)
	p := execProbe("ready", 1, 1)
	p.InitialDelaySeconds = 40 // 200ms
	m := startManager(t, f, podWith(corev1.Container{Name: "c", ReadinessProbe: p}, corev1.Container{Name: "plain"}))
	start := time.Now()
	f.setState("c", ContainerState{ID: "id1", Running: true, StartedAt: start})
	eventually(t, "ready", func() bool { _, r := m.Status("u1", "c", "id1"); return r })
	if time.Since(start) < 40*unit {
		t.Errorf("probed after %s, before the initial delay", time.Since(start))
	}
	if s, r := m.Status("u1", "plain", "x"); !s || !r {
		t.Error("container without probes must be started and ready")
	}
}

func TestStoppedContainers(t *testing.T) {
	f := newFakeNode()
	f.cmd("ready", 0)
	m := startManager(t, f, podWith(corev1.Container{Name: "c", ReadinessProbe: execProbe("ready", 1, 1)}))
	f.setState("c", ContainerState{ID: "id1", Running: true, StartedAt: time.Now()})
	eventually(t, "ready", func() bool { _, r := m.Status("u1", "c", "id1"); return r })
	f.setState("c", ContainerState{ID: "id1", Running: false, Final: true})
	eventually(t, "unready", func() bool { _, r := m.Status("u1", "c", "id1"); return !r })

	m.RemovePod("u1")
	if len(m.cache) != 0 {
		t.Error("results kept after RemovePod")
	}
}

func TestWithDefaults(t *testing.T) {
	p := withDefaults(&corev1.Probe{SuccessThreshold: 3}, Liveness)
	if p.PeriodSeconds != 10 || p.TimeoutSeconds != 1 || p.SuccessThreshold != 1 || p.FailureThreshold != 3 {
		t.Errorf("defaults = %+v", p)
	}
	if withDefaults(&corev1.Probe{SuccessThreshold: 3}, Readiness).SuccessThreshold != 3 {
		t.Error("readiness successThreshold overwritten")
	}
}
