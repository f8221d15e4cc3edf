package kubelet

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubelab/kubelab/components/kubelet/podstatus"
	"github.com/kubelab/kubelab/components/kubelet/probes"
	"github.com/kubelab/kubelab/components/kubelet/runtime"
)

// probeSet connects the prober to the sync loop: probe workers ask the
// runtime for container state, and their verdicts come back here. A failed
// liveness or startup probe marks the container instance for a restart and
// wakes the pod's worker; a readiness change wakes it to rewrite Ready.
type probeSet struct {
	k *Kubelet
	m *probes.Manager

	mu sync.Mutex
	// failed: container instance ID → the liveness/startup failure.
	failed map[string]probes.Result
	// policies: pod UID → restartPolicy (probe workers stop for containers
	// that will not be restarted).
	policies map[string]corev1.RestartPolicy
	// pods: pod UID → the pod, for events.
	pods map[string]*corev1.Pod
}

func newProbeSet(k *Kubelet) *probeSet {
	p := &probeSet{k: k, failed: map[string]probes.Result{}, policies: map[string]corev1.RestartPolicy{}, pods: map[string]*corev1.Pod{}}
	p.m = probes.NewManager(probes.Options{State: p.state, OnResult: p.onResult, OnFailure: p.onFailure})
	return p
}

func (p *probeSet) state(podUID, container string) (probes.ContainerState, bool) {
	all, err := p.k.rt.ListContainers(podUID)
	if err != nil {
		return probes.ContainerState{}, false
	}
	c, ok := latestAttempts(all)[container]
	if !ok {
		return probes.ContainerState{}, false
	}
	p.mu.Lock()
	policy := p.policies[podUID]
	p.mu.Unlock()
	return probes.ContainerState{
		ID: c.ID, Running: c.State == runtime.StateRunning, StartedAt: c.StartedAt,
		Final: c.State == runtime.StateExited && !shouldRestart(policy, c.ExitCode),
	}, true
}

func (p *probeSet) onResult(r probes.Result) {
	p.mu.Lock()
	if !r.Success && (r.Kind == probes.Liveness || r.Kind == probes.Startup) {
		p.failed[r.ContainerID] = r
	}
	p.mu.Unlock()
	p.k.workers.poke(types.UID(r.PodUID))
}

// onFailure is one failed probe run: an Unhealthy event, as `kubectl
// describe pod` shows it ("Readiness probe failed: <output>").
func (p *probeSet) onFailure(r probes.Result) {
	slog.Info("probe failed", "pod", r.PodUID, "container", r.Container, "probe", r.Kind, "msg", r.Message)
	p.mu.Lock()
	pod := p.pods[r.PodUID]
	p.mu.Unlock()
	if pod != nil {
		kind := strings.ToUpper(string(r.Kind[:1])) + string(r.Kind[1:])
		p.k.event(pod, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", kind, r.Message)
	}
}

// add starts the pod's probe workers (once per pod).
func (p *probeSet) add(pod *corev1.Pod, ips []string) {
	p.mu.Lock()
	p.policies[string(pod.UID)] = pod.Spec.RestartPolicy
	p.pods[string(pod.UID)] = pod
	p.mu.Unlock()
	ip := ""
	if len(ips) > 0 {
		ip = ips[0]
	}
	uid := string(pod.UID)
	p.m.AddPod(pod, func(c *corev1.Container) probes.Target {
		name := c.Name
		return probes.Target{PodIP: ip, Exec: func(ctx context.Context, cmd []string, timeout time.Duration) (int, []byte, error) {
			cur, ok := p.state(uid, name)
			if !ok || !cur.Running {
				return 0, nil, fmt.Errorf("container %s is not running", name)
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			var out bytes.Buffer
			code, err := p.k.rt.Exec(ctx, cur.ID, runtime.ExecConfig{Cmd: cmd, Stdout: &out, Stderr: &out})
			return code, out.Bytes(), err
		}}
	})
}

func (p *probeSet) remove(uid types.UID) {
	p.m.RemovePod(string(uid))
	p.mu.Lock()
	delete(p.policies, string(uid))
	delete(p.pods, string(uid))
	p.mu.Unlock()
}

// results are the prober's verdicts for the pod's current containers.
func (p *probeSet) results(pod *corev1.Pod, containers []runtime.ContainerStatus) map[string]podstatus.Probe {
	out := map[string]podstatus.Probe{}
	for name, c := range latestAttempts(containers) {
		started, ready := p.m.Status(string(pod.UID), name, c.ID)
		out[name] = podstatus.Probe{Started: started, Ready: ready}
	}
	return out
}

// handleProbeFailures stops containers whose liveness (or startup) probe
// failed; the sync then restarts them by restartPolicy, like the kubelet.
// It reports whether it stopped any.
func (k *Kubelet) handleProbeFailures(ctx context.Context, pod *corev1.Pod, latest map[string]runtime.ContainerStatus) bool {
	stopped := false
	for name, c := range latest {
		k.probes.mu.Lock()
		r, failed := k.probes.failed[c.ID]
		delete(k.probes.failed, c.ID)
		k.probes.mu.Unlock()
		if !failed || c.State != runtime.StateRunning {
			continue
		}
		probe := "Liveness"
		if r.Kind == probes.Startup {
			probe = "Startup"
		}
		k.event(pod, corev1.EventTypeNormal, "Killing", "Container %s failed %s probe, will be restarted", name, probe)
		k.stopContainer(ctx, pod, c, gracePeriod(pod))
		stopped = true
	}
	return stopped
}

// runHook runs a postStart or preStop handler: exec in the container,
// httpGet against the pod, or sleep.
func (k *Kubelet) runHook(ctx context.Context, pod *corev1.Pod, id string, h *corev1.LifecycleHandler) error {
	switch {
	case h.Exec != nil:
		var out bytes.Buffer
		code, err := k.rt.Exec(ctx, id, runtime.ExecConfig{Cmd: h.Exec.Command, Stdout: &out, Stderr: &out})
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("command %q exited with %d: %s", h.Exec.Command, code, out.String())
		}
	case h.HTTPGet != nil:
		ip := ""
		if pod.Status.PodIP != "" {
			ip = pod.Status.PodIP
		}
		res, err := probes.Run(ctx, &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: h.HTTPGet}, TimeoutSeconds: 10},
			containerSpec(pod, nameOf(id)), probes.Target{PodIP: ip})
		if err != nil {
			return err
		}
		if !res.Success {
			return fmt.Errorf("http lifecycle hook failed: %s", res.Message)
		}
	case h.Sleep != nil:
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
		}
	}
	return nil
}

// nameOf is the container name inside a runtime ID "<podUID>_<name>_<attempt>".
func nameOf(id string) string {
	first, last := -1, -1
	for i := range id {
		if id[i] == '_' {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 || last <= first {
		return ""
	}
	if _, err := strconv.Atoi(id[last+1:]); err != nil {
		return ""
	}
	return id[first+1 : last]
}
