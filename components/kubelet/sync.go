package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/kubelab/kubelab/components/kubelet/podstatus"
	"github.com/kubelab/kubelab/components/kubelet/runtime"
)

// podState is what a pod's worker remembers between syncs. Everything in it
// can be rebuilt from disk and the API after a kubelet restart: the sandbox
// and containers from the runtime, the IPs from IPAM's state, the volumes by
// setting them up again.
type podState struct {
	uid     types.UID
	sandbox *runtime.Sandbox
	ips     []net.IP
	volumes map[string]string
	// waiting holds why a container is not running (ErrImagePull,
	// CrashLoopBackOff, CreateContainerConfigError ...).
	waiting map[string]podstatus.Waiting
	backoff map[string]*backoff
	// status is what we last wrote to the API, statusRV the pod's
	// resourceVersion that write produced.
	status   *corev1.PodStatus
	statusRV string
	// tornDown: containers stopped, sandbox, network and volumes released.
	tornDown bool
	// deleted: we have asked the API server to remove the pod object.
	deleted bool
	// last known pod, to tear down by after the API forgot it.
	pod *corev1.Pod
}

func newPodState(uid types.UID) *podState {
	return &podState{uid: uid, waiting: map[string]podstatus.Waiting{}, backoff: map[string]*backoff{}}
}

// syncPod drives one pod one step towards what its spec asks for, and
// reports true when the worker is finished (the pod is gone from the API
// and nothing of it is left on the node).
func (k *Kubelet) syncPod(ctx context.Context, w *podWorker, pod *corev1.Pod, gone bool) bool {
	st := w.state
	if pod != nil {
		st.pod = pod
	}
	if gone || pod == nil {
		// The API server no longer has the pod (force-deleted, or a
		// leftover found on disk after a restart): stop everything now.
		if err := k.teardown(ctx, st, 2*time.Second); err != nil {
			slog.Warn("tearing down removed pod failed, retrying", "uid", st.uid, "err", err)
			w.wakeAt(time.Now().Add(time.Second))
			return false
		}
		// Logs and pod files go with the pod object.
		_ = os.RemoveAll(k.podDir(st.uid))
		if st.pod != nil {
			_ = os.RemoveAll(k.podLogDir(st.pod))
		}
		return true
	}
	log := slog.With("pod", pod.Namespace+"/"+pod.Name)
	if pod.DeletionTimestamp != nil {
		k.terminatePod(ctx, w, pod, log)
		return false
	}
	if isTerminal(pod.Status.Phase) || (st.status != nil && isTerminal(st.status.Phase)) {
		// Finished pods keep their status (and logs) but give their
		// sandbox, IP and volumes back.
		if !st.tornDown {
			if err := k.teardown(ctx, st, gracePeriod(pod)); err != nil {
				log.Warn("releasing a finished pod's resources failed, retrying", "err", err)
				w.wakeAt(time.Now().Add(time.Second))
			}
		}
		return false
	}
	if err := k.syncRunning(ctx, w, pod, log); err != nil {
		log.Warn("pod sync failed, retrying", "err", err)
		w.wakeAt(time.Now().Add(2 * time.Second))
	}
	return false
}

// syncRunning is the sync of a live pod: sandbox, network, volumes, then
// containers (init containers in order, then the app containers), then
// status.
func (k *Kubelet) syncRunning(ctx context.Context, w *podWorker, pod *corev1.Pod, log *slog.Logger) error {
	st := w.state
	if !pod.Spec.HostNetwork && k.net.Load() == nil {
		// The node's network is not set up yet (no pod CIDR, or a kubelet
		// that just started): wait for it quietly, nodesChanged wakes us.
		w.wakeAt(time.Now().Add(time.Second))
		return nil
	}
	if err := k.ensureSandbox(ctx, st, pod); err != nil {
		k.event(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
		k.writeStatus(ctx, st, pod, false)
		return err
	}
	containers, err := k.rt.ListContainers(string(pod.UID))
	if err != nil {
		return fmt.Errorf("list containers of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	latest := latestAttempts(containers)
	if k.handleProbeFailures(ctx, pod, latest) {
		if containers, err = k.rt.ListContainers(string(pod.UID)); err != nil {
			return fmt.Errorf("list containers of pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		latest = latestAttempts(containers)
	}
	k.refreshVolumes(pod)
	// Probe workers for this pod (a no-op once they run; after a kubelet
	// restart this is what starts them for adopted containers).
	k.probes.add(pod, ipStrings(st.ips))

	initialized := true
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		cs, ok := latest[c.Name]
		switch {
		case !ok:
			k.startContainer(ctx, w, pod, c, 0, log)
			if !sidecar {
				initialized = false
			}
		case cs.State == runtime.StateRunning || cs.State == runtime.StateCreated:
			if !sidecar {
				initialized = false
			}
		case cs.State == runtime.StateExited && cs.ExitCode == 0 && !sidecar:
			continue
		default: // failed, or a sidecar that stopped
			if sidecar || pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
				k.restartContainer(ctx, w, pod, c, cs, log)
			}
			if !sidecar {
				initialized = false
			}
		}
		if !initialized {
			break
		}
	}
	if initialized {
		for i := range pod.Spec.Containers {
			c := &pod.Spec.Containers[i]
			cs, ok := latest[c.Name]
			switch {
			case !ok:
				k.startContainer(ctx, w, pod, c, 0, log)
			case cs.State == runtime.StateExited || cs.State == runtime.StateUnknown:
				if shouldRestart(pod.Spec.RestartPolicy, cs.ExitCode) {
					k.restartContainer(ctx, w, pod, c, cs, log)
				}
			}
		}
	}
	k.writeStatus(ctx, st, pod, false)
	return nil
}

// ensureSandbox creates (or re-finds, after a restart) the pod's
// namespaces, network and volumes. Every step is idempotent.
func (k *Kubelet) ensureSandbox(ctx context.Context, st *podState, pod *corev1.Pod) error {
	st.tornDown = false
	if st.sandbox == nil {
		sb, err := k.rt.CreateSandbox(runtime.SandboxConfig{
			PodUID: string(pod.UID), Namespace: pod.Namespace, Name: pod.Name,
			Hostname: podHostname(pod), HostNetwork: pod.Spec.HostNetwork,
			Resources: podResources(pod),
		})
		if err != nil {
			return fmt.Errorf("create sandbox: %w", err)
		}
		st.sandbox = sb
	}
	if st.ips == nil {
		if pod.Spec.HostNetwork {
			st.ips = []net.IP{k.nodeIP}
		} else {
			pn := k.net.Load()
			if pn == nil {
				return errors.New("container runtime network not ready: this node has no pod CIDR yet")
			}
			ips, err := pn.attach(string(pod.UID), st.sandbox.NetNS)
			if err != nil {
				return fmt.Errorf("set up pod network: %w", err)
			}
			st.ips = ips
		}
	}
	if st.volumes == nil {
		vols, err := k.setupVolumes(ctx, pod)
		if err != nil {
			k.event(pod, corev1.EventTypeWarning, "FailedMount", "%v", err)
			return fmt.Errorf("set up volumes: %w", err)
		}
		st.volumes = vols
	}
	return writePodFiles(k.podDir(pod.UID), pod, st.ips, &k.o)
}

// teardown stops every container of the pod and releases its sandbox,
// network, volumes and cgroup. Logs stay until the pod is deleted.
func (k *Kubelet) teardown(ctx context.Context, st *podState, grace time.Duration) error {
	uid := string(st.uid)
	containers, err := k.rt.ListContainers(uid)
	if err == nil {
		k.stopAll(ctx, st.pod, containers, grace)
	}
	var errs []error
	if pn := k.net.Load(); pn != nil {
		netns := ""
		if sb, ok := k.rt.Sandbox(uid); ok {
			netns = sb.NetNS
		}
		if err := pn.detach(uid, netns); err != nil {
			errs = append(errs, err)
		}
	}
	if err := k.rt.RemoveSandbox(uid); err != nil {
		errs = append(errs, err)
	}
	if err := k.tearDownVolumes(st.uid); err != nil {
		errs = append(errs, err)
	}
	k.probes.remove(st.uid)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	st.sandbox, st.volumes, st.tornDown = nil, nil, true
	return nil
}

// terminatePod is the graceful path of `kubectl delete pod`: preStop hooks,
// TERM, the grace period, KILL, then the final status and the removal of the
// pod object (the kubelet has the last word on a pod it runs).
func (k *Kubelet) terminatePod(ctx context.Context, w *podWorker, pod *corev1.Pod, log *slog.Logger) {
	st := w.state
	if st.deleted {
		return
	}
	grace := gracePeriod(pod)
	if !st.tornDown {
		log.Info("stopping pod", "grace", grace)
		if err := k.teardown(ctx, st, grace); err != nil {
			log.Warn("stopping pod failed, retrying", "err", err)
			w.wakeAt(time.Now().Add(time.Second))
			return
		}
	}
	k.writeStatus(ctx, st, pod, true)
	err := k.kube.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		log.Warn("removing the pod object failed, retrying", "err", err)
		w.wakeAt(time.Now().Add(time.Second))
		return
	}
	st.deleted = true
	_ = os.RemoveAll(k.podDir(pod.UID))
	_ = os.RemoveAll(k.podLogDir(pod))
}

// gracePeriod is how long containers get between TERM and KILL: the
// deletion's grace period if the pod is being deleted, else the spec's.
func gracePeriod(pod *corev1.Pod) time.Duration {
	if pod == nil {
		return 2 * time.Second
	}
	if pod.DeletionGracePeriodSeconds != nil {
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

func isTerminal(p corev1.PodPhase) bool {
	return p == corev1.PodSucceeded || p == corev1.PodFailed
}

// shouldRestart applies restartPolicy to a container that exited.
func shouldRestart(policy corev1.RestartPolicy, exitCode int) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

// latestAttempts picks each container's newest attempt.
func latestAttempts(all []runtime.ContainerStatus) map[string]runtime.ContainerStatus {
	out := map[string]runtime.ContainerStatus{}
	for _, c := range all {
		if cur, ok := out[c.Name]; !ok || c.Attempt > cur.Attempt {
			out[c.Name] = c
		}
	}
	return out
}

func (k *Kubelet) podDir(uid types.UID) string {
	return filepath.Join(k.o.RootDir, "pods", string(uid))
}

// podLogDir is /var/log/pods/<namespace>_<name>_<uid>, the kubelet's layout.
func (k *Kubelet) podLogDir(pod *corev1.Pod) string {
	return filepath.Join(k.o.PodLogsDir, fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID))
}

// stopAll stops running containers in parallel: preStop hook, then TERM,
// grace, KILL. Each container's grace shrinks by what its hook used.
func (k *Kubelet) stopAll(ctx context.Context, pod *corev1.Pod, cs []runtime.ContainerStatus, grace time.Duration) {
	done := make(chan struct{}, len(cs))
	n := 0
	for _, c := range cs {
		if c.State != runtime.StateRunning && c.State != runtime.StateCreated {
			continue
		}
		n++
		go func() {
			defer func() { done <- struct{}{} }()
			k.stopContainer(ctx, pod, c, grace)
		}()
	}
	for range n {
		<-done
	}
}

func (k *Kubelet) stopContainer(ctx context.Context, pod *corev1.Pod, c runtime.ContainerStatus, grace time.Duration) {
	start := time.Now()
	if spec := containerSpec(pod, c.Name); spec != nil && spec.Lifecycle != nil && spec.Lifecycle.PreStop != nil {
		hctx, cancel := context.WithTimeout(ctx, grace)
		if err := k.runHook(hctx, pod, c.ID, spec.Lifecycle.PreStop); err != nil {
			k.event(pod, corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %v", err)
		}
		cancel()
	}
	if pod != nil {
		k.event(pod, corev1.EventTypeNormal, "Killing", "Stopping container %s", c.Name)
	}
	left := max(grace-time.Since(start), 0)
	if err := k.rt.StopContainer(c.ID, left); err != nil {
		slog.Warn("stopping container failed", "container", c.ID, "err", err)
	}
}

// containerSpec finds a container (init or app) by name.
func containerSpec(pod *corev1.Pod, name string) *corev1.Container {
	if pod == nil {
		return nil
	}
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		if i := slices.IndexFunc(list, func(c corev1.Container) bool { return c.Name == name }); i >= 0 {
			return &list[i]
		}
	}
	return nil
}
