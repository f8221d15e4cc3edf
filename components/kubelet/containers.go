package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubelab/kubelab/components/kubelet/images"
	"github.com/kubelab/kubelab/components/kubelet/podstatus"
	"github.com/kubelab/kubelab/components/kubelet/runtime"
)

// Back-off between restarts of a crashing container: 10 s, doubling, at
// most 5 min; a container that ran for 10 min starts over (upstream values).
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 300 * time.Second
	backoffReset   = 10 * time.Minute
)

// backoff is one container's (or one image pull's) restart back-off: the
// current delay, and when the last failure happened (for pulls).
type backoff struct {
	delay time.Duration
	at    time.Time
}

func (b *backoff) until() time.Time { return b.at.Add(b.delay) }

// restartContainer starts the next attempt of an exited container, unless
// it is in back-off (CrashLoopBackOff), in which case the worker is asked
// to come back when the back-off ends.
func (k *Kubelet) restartContainer(ctx context.Context, w *podWorker, pod *corev1.Pod, c *corev1.Container, last runtime.ContainerStatus, log *slog.Logger) {
	st := w.state
	b := st.backoff[c.Name]
	if b != nil && !last.StartedAt.IsZero() && last.FinishedAt.Sub(last.StartedAt) > backoffReset {
		b = nil
	}
	if b == nil {
		st.backoff[c.Name] = &backoff{delay: backoffInitial}
	} else {
		until := last.FinishedAt.Add(b.delay)
		if time.Now().Before(until) {
			msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", b.delay, c.Name, pod.Name, pod.Namespace, pod.UID)
			if cur := st.waiting[c.Name]; cur.Reason != podstatus.ReasonCrashLoopBackOff {
				k.event(pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, pod.Name, pod.Namespace, pod.UID)
			}
			st.waiting[c.Name] = podstatus.Waiting{Reason: podstatus.ReasonCrashLoopBackOff, Message: msg}
			w.wakeAt(until)
			return
		}
		b.delay = min(2*b.delay, backoffMax)
	}
	k.startContainer(ctx, w, pod, c, last.Attempt+1, log)
	// Keep the previous attempt (for `kubectl logs --previous` and
	// lastState), remove older ones.
	if all, err := k.rt.ListContainers(string(pod.UID)); err == nil {
		for _, old := range all {
			if old.Name == c.Name && old.Attempt < last.Attempt && old.State == runtime.StateExited {
				_ = k.rt.RemoveContainer(old.ID)
			}
		}
	}
}

// startContainer pulls the image, resolves the container's environment and
// mounts, and starts attempt number attempt. Failures become the
// container's waiting reason (what `kubectl get pods` shows) and an event.
func (k *Kubelet) startContainer(ctx context.Context, w *podWorker, pod *corev1.Pod, c *corev1.Container, attempt int, log *slog.Logger) {
	st := w.state
	img, err := k.pullImage(ctx, w, pod, c)
	if err != nil {
		return
	}
	cfg, err := k.containerConfig(ctx, st, pod, c, img, attempt)
	if err != nil {
		st.waiting[c.Name] = podstatus.Waiting{Reason: podstatus.ReasonCreateContainerConfigError, Message: err.Error()}
		k.event(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		w.wakeAt(time.Now().Add(5 * time.Second))
		return
	}
	if err := os.MkdirAll(filepath.Dir(cfg.LogPath), 0o755); err != nil {
		log.Warn("creating the container log directory failed", "err", err)
	}
	// A burst of starts (a 100-replica Deployment) would otherwise run
	// every monitor, container init and entrypoint at once, all of them
	// finishing late; a few at a time, in arrival order, most pods are
	// Running much sooner and the node stays responsive.
	select {
	case k.startSlots <- struct{}{}:
	case <-ctx.Done():
		return
	}
	cs, err := k.rt.StartContainer(st.sandbox, cfg)
	<-k.startSlots
	if err != nil {
		st.waiting[c.Name] = podstatus.Waiting{Reason: podstatus.ReasonRunContainerError, Message: err.Error()}
		k.event(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		w.wakeAt(time.Now().Add(5 * time.Second))
		return
	}
	delete(st.waiting, c.Name)
	k.event(pod, corev1.EventTypeNormal, "Created", "Created container: %s", c.Name)
	k.event(pod, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	log.Debug("container started", "container", c.Name, "attempt", attempt, "id", cs.ID)
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := k.runHook(hctx, pod, cs.ID, c.Lifecycle.PostStart); err != nil {
			k.event(pod, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %v", err)
			_ = k.rt.StopContainer(cs.ID, gracePeriod(pod))
		}
		cancel()
	}
}

// pullImage makes sure the container's image is on the node, honouring
// imagePullPolicy and imagePullSecrets, with back-off after failures
// (ErrImagePull, then ImagePullBackOff).
func (k *Kubelet) pullImage(ctx context.Context, w *podWorker, pod *corev1.Pod, c *corev1.Container) (*images.Image, error) {
	st := w.state
	key := "image/" + c.Name
	if b := st.backoff[key]; b != nil {
		if cur := st.waiting[c.Name]; (cur.Reason == podstatus.ReasonErrImagePull || cur.Reason == podstatus.ReasonImagePullBackOff) && time.Now().Before(b.until()) {
			st.waiting[c.Name] = podstatus.Waiting{Reason: podstatus.ReasonImagePullBackOff, Message: fmt.Sprintf("Back-off pulling image %q: %s", c.Image, cur.Message)}
			w.wakeAt(b.until())
			return nil, errors.New("in back-off")
		}
	}
	policy := c.ImagePullPolicy
	if _, present := k.images.Get(c.Image); !present || policy == corev1.PullAlways {
		k.event(pod, corev1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	}
	start := time.Now()
	img, err := k.images.Ensure(ctx, c.Image, policy, k.pullSecrets(ctx, pod))
	if err != nil {
		reason := podstatus.ReasonErrImagePull
		if errors.Is(err, images.ErrImageNeverPull) {
			reason = "ErrImageNeverPull"
		} else if errors.Is(err, images.ErrInvalidImageName) {
			reason = "InvalidImageName"
		}
		st.waiting[c.Name] = podstatus.Waiting{Reason: reason, Message: err.Error()}
		hint := ""
		if reason == podstatus.ReasonErrImagePull {
			hint = fmt.Sprintf(" (no registry reachable? put the image on this node with 'kubelab image load --node %s IMAGE.tar' and use imagePullPolicy: IfNotPresent)", k.o.NodeName)
		}
		k.event(pod, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v%s", c.Image, err, hint)
		b := st.backoff[key]
		if b == nil {
			b = &backoff{delay: backoffInitial}
		} else {
			b.delay = min(2*b.delay, backoffMax)
		}
		b.at = time.Now()
		st.backoff[key] = b
		w.wakeAt(b.until())
		return nil, err
	}
	delete(st.backoff, key)
	if time.Since(start) > 50*time.Millisecond {
		k.event(pod, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s", c.Image, time.Since(start).Round(time.Millisecond))
	} else {
		k.event(pod, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)
	}
	return img, nil
}

// pullSecrets reads the pod's imagePullSecrets; missing ones are skipped,
// like the kubelet does (with a warning).
func (k *Kubelet) pullSecrets(ctx context.Context, pod *corev1.Pod) []corev1.Secret {
	var out []corev1.Secret
	for _, ref := range pod.Spec.ImagePullSecrets {
		s, err := k.kube.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			slog.Warn("image pull secret not readable, pulling without it", "pod", pod.Namespace+"/"+pod.Name, "secret", ref.Name, "err", err)
			continue
		}
		out = append(out, *s)
	}
	return out
}

// containerConfig resolves everything the runtime needs for one start.
func (k *Kubelet) containerConfig(ctx context.Context, st *podState, pod *corev1.Pod, c *corev1.Container, img *images.Image, attempt int) (runtime.ContainerConfig, error) {
	args, env, err := k.buildEnv(ctx, st, pod, c, img)
	if err != nil {
		return runtime.ContainerConfig{}, err
	}
	if len(args) == 0 {
		return runtime.ContainerConfig{}, fmt.Errorf("no command specified: image %q has no entrypoint or cmd and the container sets no command", c.Image)
	}
	mounts, err := k.containerMounts(pod, c, st.volumes, env)
	if err != nil {
		return runtime.ContainerConfig{}, err
	}
	mounts = append(mounts, k.podFileMounts(pod, c)...)
	uid, gid, groups, err := runAs(pod, c, img)
	if err != nil {
		return runtime.ContainerConfig{}, err
	}
	wd := c.WorkingDir
	if wd == "" {
		wd = img.Config.WorkingDir
	}
	cfg := runtime.ContainerConfig{
		Name: c.Name, Attempt: attempt,
		Image: img.Ref, ImageID: img.StatusImageID(), LowerDirs: img.LowerDirs,
		Args: args, Env: env, WorkingDir: wd,
		UID: uid, GID: gid, AdditionalGIDs: groups,
		TTY: c.TTY, Stdin: c.Stdin, StdinOnce: c.StdinOnce,
		Mounts:    mounts,
		Resources: containerResources(c),
		LogPath:   filepath.Join(k.podLogDir(pod), c.Name, strconv.Itoa(attempt)+".log"),
	}
	if sc := c.SecurityContext; sc != nil {
		cfg.Privileged = sc.Privileged != nil && *sc.Privileged
		cfg.ReadOnlyRootfs = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
		if sc.Capabilities != nil {
			for _, cp := range sc.Capabilities.Add {
				cfg.CapAdd = append(cfg.CapAdd, string(cp))
			}
			for _, cp := range sc.Capabilities.Drop {
				cfg.CapDrop = append(cfg.CapDrop, string(cp))
			}
		}
	}
	return cfg, nil
}

// podFileMounts are /etc/hosts, /etc/resolv.conf, /etc/hostname and the
// termination message file.
func (k *Kubelet) podFileMounts(pod *corev1.Pod, c *corev1.Container) []runtime.Mount {
	dir := k.podDir(pod.UID)
	ms := []runtime.Mount{
		{Source: filepath.Join(dir, "etc-hosts"), Destination: "/etc/hosts"},
		{Source: filepath.Join(dir, "resolv.conf"), Destination: "/etc/resolv.conf"},
		{Source: filepath.Join(dir, "hostname"), Destination: "/etc/hostname"},
	}
	if p := c.TerminationMessagePath; p != "" {
		f := filepath.Join(dir, "containers", c.Name, "termination-log")
		_ = os.MkdirAll(filepath.Dir(f), 0o755)
		if _, err := os.Stat(f); err != nil {
			_ = os.WriteFile(f, nil, 0o666)
		}
		ms = append(ms, runtime.Mount{Source: f, Destination: p})
	}
	return ms
}

// runAs picks the container's user: securityContext (container, then pod),
// else the image's USER ("uid", "uid:gid", or a name from the image's
// /etc/passwd), else root.
func runAs(pod *corev1.Pod, c *corev1.Container, img *images.Image) (uid, gid uint32, groups []uint32, err error) {
	if u := img.Config.User; u != "" {
		if uid, gid, groups, err = img.User(u); err != nil {
			return 0, 0, nil, fmt.Errorf("image %q: %w", c.Image, err)
		}
	}
	psc := pod.Spec.SecurityContext
	if psc != nil {
		if psc.RunAsUser != nil {
			uid = uint32(*psc.RunAsUser)
		}
		if psc.RunAsGroup != nil {
			gid = uint32(*psc.RunAsGroup)
		}
		for _, g := range psc.SupplementalGroups {
			groups = append(groups, uint32(g))
		}
		if psc.FSGroup != nil {
			groups = append(groups, uint32(*psc.FSGroup))
		}
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = uint32(*sc.RunAsUser)
		}
		if sc.RunAsGroup != nil {
			gid = uint32(*sc.RunAsGroup)
		}
	}
	nonRoot := (psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot) ||
		(c.SecurityContext != nil && c.SecurityContext.RunAsNonRoot != nil && *c.SecurityContext.RunAsNonRoot)
	if nonRoot && uid == 0 {
		return 0, 0, nil, errors.New("container has runAsNonRoot and image will run as root")
	}
	return uid, gid, groups, nil
}

// containerResources turns requests/limits into cgroup settings.
func containerResources(c *corev1.Container) runtime.Resources {
	var r runtime.Resources
	if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
		r.CPUShares = max(uint64(q.MilliValue())*1024/1000, 2)
	} else if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		r.CPUShares = max(uint64(q.MilliValue())*1024/1000, 2)
	} else {
		r.CPUShares = 2 // BestEffort: the minimum, like the kubelet
	}
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		r.CPUPeriod = 100000
		r.CPUQuota = max(q.MilliValue()*100000/1000, 1000)
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		r.MemoryLimit = q.Value()
	}
	return r
}

// podResources bounds the pod cgroup by the sum of its containers' limits
// when every container has one (what the kubelet does for Guaranteed and
// limited Burstable pods).
func podResources(pod *corev1.Pod) runtime.Resources {
	var r runtime.Resources
	memAll, cpuAll := true, true
	var mem, cpu int64
	// cpu.shares of the pod: the sum of its containers' (requests), so the
	// pod as a whole competes with other pods by what it asked for.
	for i := range pod.Spec.Containers {
		r.CPUShares += containerResources(&pod.Spec.Containers[i]).CPUShares
	}
	for _, c := range pod.Spec.Containers {
		if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			mem += q.Value()
		} else {
			memAll = false
		}
		if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
			cpu += q.MilliValue()
		} else {
			cpuAll = false
		}
	}
	if memAll && mem > 0 {
		r.MemoryLimit = mem
	}
	if cpuAll && cpu > 0 {
		r.CPUPeriod, r.CPUQuota = 100000, cpu*100000/1000
	}
	return r
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}
