package cluster_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// TestKubeletRestartKeepsPods: a kubelet restart is invisible to running
// pods (same container, no restart, exec still works), and an exit that
// happened while no kubelet was watching is still reported with its code.
func TestKubeletRestartKeepsPods(t *testing.T) {
	nt := newNodeTest(t)
	hostDir := filepath.Join(nt.dir, "restart-"+randHex(3))
	if err := os.MkdirAll(hostDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(hostDir) })

	// The lab timings call a node unreachable after 4 s and evict its pods
	// 2 s later (the default tolerations). This test is about what the
	// kubelet does on restart, not about eviction: on a busy machine the
	// restart may take longer, so both pods tolerate a gone node for 5 min,
	// as a pod that must survive kubelet upgrades would.
	stay := []corev1.Toleration{
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
	}
	keeper := nt.simplePod("keeper", sh("c", idle))
	keeper.Spec.Tolerations = stay
	nt.create(keeper)
	quitter := nt.simplePod("quitter", sh("c", `while [ ! -f /host/go ]; do sleep 0.1; done; echo bye; exit 7`))
	quitter.Spec.Tolerations = stay
	quitter.Spec.RestartPolicy = corev1.RestartPolicyNever
	quitter.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "host", MountPath: "/host"}}
	quitter.Spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}}}}
	nt.create(quitter)
	before := nt.waitRunning("keeper")
	q := nt.waitRunning("quitter")
	bcs := containerStatus(before, "c")

	// Node Ready transitions during the restart, for the failure message.
	nodeSeen := watchNodeReady(t, nt)

	// Down.
	down := time.Now()
	if err := nt.stopKubelet(); err != nil {
		t.Fatalf("stop the kubelet: %v", err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted { // leave the node usable for the other tests
			_ = nt.startKubelet(context.Background())
		}
	})
	if err := os.WriteFile(filepath.Join(hostDir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(nt.opts.RootDir, "runtime", "pods", string(q.UID))
	err := wait.PollUntilContextTimeout(nt.ctx, 20*time.Millisecond, 3*time.Second, true, func(context.Context) (bool, error) {
		return len(processesRootedUnder(rootfs)) == 0, nil
	})
	if err != nil {
		t.Errorf("the quitter's process did not exit while the kubelet was down: %v", processesRootedUnder(rootfs))
	}
	if err := nt.startKubelet(nt.ctx); err != nil {
		t.Fatalf("start the kubelet again: %v", err)
	}
	restarted = true
	t.Logf("kubelet down for %v (stop, container exit, start until Ready)", time.Since(down).Round(time.Millisecond))

	p := nt.waitPhase("quitter", corev1.PodFailed)
	if cs := containerStatus(p, "c"); cs == nil || cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 7 {
		t.Errorf("an exit while the kubelet was down: want terminated with code 7: %s", describeStatus(p))
	}

	// The new kubelet has synced (it reported the quitter): the keeper's
	// status is its word now.
	after, err := nt.kube.CoreV1().Pods(nt.ns).Get(nt.ctx, "keeper", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	acs := containerStatus(after, "c")
	if acs == nil || acs.State.Running == nil {
		t.Fatalf("keeper not running after the restart: %s", describeStatus(after))
	}
	if acs.RestartCount != 0 || acs.ContainerID != bcs.ContainerID || !acs.State.Running.StartedAt.Equal(&bcs.State.Running.StartedAt) {
		t.Errorf("the kubelet restart touched the container: before id=%s started=%v, after id=%s started=%v restarts=%d",
			bcs.ContainerID, bcs.State.Running.StartedAt, acs.ContainerID, acs.State.Running.StartedAt, acs.RestartCount)
	}
	if out := nt.mustExec("keeper", "c", "echo", "still-here"); out != "still-here\n" {
		t.Errorf("exec after restart: %q", out)
	}
	t.Run("PodsStayReady", func(t *testing.T) {
		// A kubelet restart must not take running pods out of their
		// Services: Ready stays (or comes back to) True.
		nt.waitPod("keeper", "Ready after the kubelet restart", func(p *corev1.Pod) bool { return conditionTrue(p, corev1.PodReady) })
		t.Logf("node Ready condition during the restart: %s", nodeSeen())
	})
}

// watchNodeReady records the node's Ready condition changes until the
// test ends.
func watchNodeReady(t *testing.T, nt *nodeTest) func() string {
	w, err := nt.kube.CoreV1().Nodes().Watch(nt.ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + nt.opts.NodeName})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	var mu sync.Mutex
	var seen []string
	go func() {
		last := ""
		for ev := range w.ResultChan() {
			n, ok := ev.Object.(*corev1.Node)
			if !ok {
				continue
			}
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && string(c.Status)+c.Reason != last {
					last = string(c.Status) + c.Reason
					mu.Lock()
					seen = append(seen, fmt.Sprintf("%s %s(%s: %s)", time.Now().Format("15:04:05.000"), c.Status, c.Reason, c.Message))
					mu.Unlock()
				}
			}
		}
	}()
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(seen, " → ")
	}
}

// TestPodStatusReconciled: the kubelet owns pod status; when another
// writer changes it (the node lifecycle controller marks pods not Ready
// when their node looks down), the kubelet puts its own view back on its
// next sync, like the kubelet's status manager.
func TestPodStatusReconciled(t *testing.T) {
	nt := newNodeTest(t)
	nt.create(nt.simplePod("owned", sh("c", idle)))
	p := nt.waitPod("owned", "Ready", func(p *corev1.Pod) bool { return conditionTrue(p, corev1.PodReady) })
	// What MarkPodsNotReady does: Ready=False, nothing else.
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			p.Status.Conditions[i].Status = corev1.ConditionFalse
			p.Status.Conditions[i].LastTransitionTime = metav1.Now()
		}
	}
	if _, err := nt.kube.CoreV1().Pods(nt.ns).UpdateStatus(nt.ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	nt.waitPod("owned", "Ready again (SyncFrequency is 10s)", func(p *corev1.Pod) bool { return conditionTrue(p, corev1.PodReady) })
	t.Logf("Ready restored after %v", time.Since(start).Round(time.Millisecond))
}

// processesRootedUnder lists PIDs whose root directory is below dir: the
// processes of the containers whose rootfs lives there.
func processesRootedUnder(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		root, err := os.Readlink(filepath.Join("/proc", e.Name(), "root"))
		if err == nil && strings.HasPrefix(root, dir+"/") {
			out = append(out, e.Name())
		}
	}
	return out
}

// hostVethName mirrors the network package's naming: "veth" + the first 4
// bytes of sha256(pod UID) in hex.
func hostVethName(uid types.UID) string {
	sum := sha256.Sum256([]byte(uid))
	return "veth" + hex.EncodeToString(sum[:4])
}

// waitReleased waits until the kubelet has released a finished pod's
// sandbox (its veth is gone), which it does soon after the pod finishes.
func (nt *nodeTest) waitReleased(uid types.UID) {
	nt.t.Helper()
	err := wait.PollUntilContextTimeout(nt.ctx, 50*time.Millisecond, 15*time.Second, true, func(context.Context) (bool, error) {
		_, err := netlink.LinkByName(hostVethName(uid))
		return err != nil, nil
	})
	if err != nil {
		nt.t.Fatalf("the finished pod %s still has its veth %s: %v", uid, hostVethName(uid), err)
	}
}

// TestPodTeardownLeavesNothing: deleting pods releases their mounts, veths
// and cgroups.
func TestPodTeardownLeavesNothing(t *testing.T) {
	nt := newNodeTest(t)
	one := nt.simplePod("vols", sh("c", idle))
	one.Spec.Volumes = []corev1.Volume{
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "mem", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
		{Name: "token", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}},
	}
	one.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{
		{Name: "scratch", MountPath: "/scratch"}, {Name: "mem", MountPath: "/mem"}, {Name: "token", MountPath: "/token"}}
	two := nt.simplePod("two", sh("a", idle), sh("b", idle))
	nt.create(one)
	nt.create(two)
	var uids []types.UID
	for _, name := range []string{"vols", "two"} {
		p := nt.waitRunning(name)
		uids = append(uids, p.UID)
	}

	leftovers := func(uid types.UID) []string {
		var out []string
		for _, m := range mountsUnder(nt.dir) {
			if strings.Contains(m, string(uid)) {
				out = append(out, "mount "+m)
			}
		}
		if _, err := netlink.LinkByName(hostVethName(uid)); err == nil {
			out = append(out, "link "+hostVethName(uid))
		}
		for _, d := range cgroupDirs(nt.opts.CgroupRoot, "pod"+string(uid)) {
			out = append(out, "cgroup "+d)
		}
		return out
	}
	// What we look for must exist while the pods run, or the check after
	// deletion proves nothing.
	for _, uid := range uids {
		l := leftovers(uid)
		var mounts, links, cgroups int
		for _, s := range l {
			switch {
			case strings.HasPrefix(s, "mount "):
				mounts++
			case strings.HasPrefix(s, "link "):
				links++
			case strings.HasPrefix(s, "cgroup "):
				cgroups++
			}
		}
		if mounts == 0 || links != 1 || cgroups == 0 {
			t.Fatalf("pod %s while running: %d mounts, %d veths, %d cgroup dirs found (%v): the checks below would see nothing", uid, mounts, links, cgroups, l)
		}
	}

	if err := nt.deleteAllPods(nt.ctx, nt.ns, podTimeout); err != nil {
		t.Fatal(err)
	}
	// The kubelet deletes a pod's object after tearing it down, so all
	// should already be gone; a short poll covers asynchronous cleanup.
	for _, uid := range uids {
		var l []string
		_ = wait.PollUntilContextTimeout(nt.ctx, 50*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
			l = leftovers(uid)
			return len(l) == 0, nil
		})
		if len(l) > 0 {
			t.Errorf("pod %s left behind after deletion:\n  %s", uid, strings.Join(l, "\n  "))
		}
		if dirs, _ := filepath.Glob(filepath.Join(nt.opts.RootDir, "*", "pods", string(uid))); len(dirs) > 0 {
			t.Errorf("pod %s left state dirs: %v", uid, dirs)
		}
	}
}
