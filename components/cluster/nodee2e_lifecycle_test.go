package cluster_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// podGet does an HTTP GET on a pod's IP from this host: the node is the
// host, so pod IPs are on a bridge here.
func podGet(ctx context.Context, ip string, port int, path string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://%s%s", net.JoinHostPort(ip, fmt.Sprint(port)), path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestLivenessProbeRestarts: a failing HTTP liveness probe restarts the
// container once and leaves an Unhealthy event.
func TestLivenessProbeRestarts(t *testing.T) {
	nt := newNodeTest(t)
	c := corev1.Container{Name: "web", Image: testserver, Args: []string{"netexec", "--http-port=8080", "--udp-port=-1"},
		LivenessProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
			// The kubelet may probe the moment the container starts: give
			// netexec time to listen, and allow one slow answer on a busy
			// machine (two failures in a row restart it).
			InitialDelaySeconds: 2, PeriodSeconds: 1, FailureThreshold: 2, TimeoutSeconds: 3,
		}}
	nt.create(nt.simplePod("live", c))
	p := nt.waitRunning("live")
	// The server is up when it answers; the probe has passed by then too.
	var code int
	err := wait.PollUntilContextTimeout(nt.ctx, 100*time.Millisecond, podTimeout, true, func(ctx context.Context) (bool, error) {
		code, _, _ = podGet(ctx, p.Status.PodIP, 8080, "/healthz")
		return code == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("netexec at %s:8080 never answered /healthz 200 (last %d): %v", p.Status.PodIP, code, err)
	}
	if p, err = nt.kube.CoreV1().Pods(nt.ns).Get(nt.ctx, "live", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if cs := containerStatus(p, "web"); cs.RestartCount != 0 {
		t.Fatalf("restarted before the probe was told to fail: %s\nevents:%s", describeStatus(p), nt.events("live"))
	}
	code, body, err := podGet(nt.ctx, p.Status.PodIP, 8080, "/sethealth?status=500")
	if err != nil || code != http.StatusOK {
		t.Fatalf("/sethealth?status=500: %d %q %v", code, body, err)
	}
	p = nt.waitPod("live", "restartCount 1 and running again", func(p *corev1.Pod) bool {
		cs := containerStatus(p, "web")
		return cs != nil && cs.RestartCount == 1 && cs.State.Running != nil
	})
	cs := containerStatus(p, "web")
	if lt := cs.LastTerminationState.Terminated; lt == nil {
		t.Errorf("no lastState.terminated after the liveness restart: %s", describeStatus(p))
	}
	ev := nt.waitEvent("live", "Unhealthy")
	if !strings.Contains(ev.Message, "Liveness") {
		t.Errorf("Unhealthy event %q does not name the liveness probe", ev.Message)
	}
	// The new instance starts healthy: it is not restarted again.
	err = wait.PollUntilContextTimeout(nt.ctx, 100*time.Millisecond, podTimeout, true, func(ctx context.Context) (bool, error) {
		code, _, _ = podGet(ctx, p.Status.PodIP, 8080, "/healthz")
		return code == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("the restarted netexec never answered /healthz 200 (last %d): %v", code, err)
	}
	time.Sleep(4 * time.Second) // initial delay + two failing periods: a wrong restart would show
	p, _ = nt.kube.CoreV1().Pods(nt.ns).Get(nt.ctx, "live", metav1.GetOptions{})
	if cs := containerStatus(p, "web"); cs == nil || cs.RestartCount != 1 {
		t.Errorf("restartCount after the restart settled: %s", describeStatus(p))
	}
}

// TestReadinessProbeGatesReady: an exec readiness probe decides Ready
// without restarting anything.
func TestReadinessProbeGatesReady(t *testing.T) {
	nt := newNodeTest(t)
	c := sh("app", idle)
	// The probe counts its runs, so the test can wait for a few of them
	// instead of sleeping.
	c.ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "echo >> /tmp/probes; cat /tmp/ready"}}},
		PeriodSeconds: 1, FailureThreshold: 1,
	}
	nt.create(nt.simplePod("ready", c))
	nt.waitRunning("ready")
	// Let the probe fail a few times: Ready must stay False throughout.
	err := wait.PollUntilContextTimeout(nt.ctx, 200*time.Millisecond, podTimeout, true, func(context.Context) (bool, error) {
		out, _, code, err := nt.exec("ready", "app", "sh", "-c", "wc -l < /tmp/probes")
		if err != nil || code != 0 {
			return false, nil
		}
		var n int
		_, _ = fmt.Sscan(out, &n)
		return n >= 3, nil
	})
	if err != nil {
		t.Fatalf("the readiness probe did not run 3 times: %v", err)
	}
	p, err := nt.kube.CoreV1().Pods(nt.ns).Get(nt.ctx, "ready", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if conditionTrue(p, corev1.PodReady) || conditionTrue(p, corev1.ContainersReady) || containerStatus(p, "app").Ready {
		t.Fatalf("Ready before /tmp/ready exists: %s", describeStatus(p))
	}
	if p.Status.Phase != corev1.PodRunning {
		t.Errorf("phase %s, want Running", p.Status.Phase)
	}
	t.Run("UnhealthyEvent", func(t *testing.T) {
		// Upstream records each failed readiness probe as Warning
		// Unhealthy "Readiness probe failed: <output>" (kubectl describe
		// shows them, counted). The output is the probe's: a container
		// merely starting unready is no failure and has no event.
		err := wait.PollUntilContextTimeout(nt.ctx, 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			for _, e := range nt.eventList("ready") {
				if e.Reason == "Unhealthy" && strings.HasPrefix(e.Message, "Readiness probe failed: cat: can't open '/tmp/ready'") {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Errorf("no Unhealthy event with the probe's output for 3 failed readiness probes; events:%s", nt.events("ready"))
		}
		for _, e := range nt.eventList("ready") {
			if e.Reason == "Unhealthy" && !strings.Contains(e.Message, "cat: ") {
				t.Errorf("Unhealthy event %q is not a failed probe run", e.Message)
			}
		}
	})

	nt.mustExec("ready", "app", "touch", "/tmp/ready")
	p = nt.waitPod("ready", "Ready", func(p *corev1.Pod) bool {
		cs := containerStatus(p, "app")
		return conditionTrue(p, corev1.PodReady) && conditionTrue(p, corev1.ContainersReady) && cs != nil && cs.Ready
	})

	nt.mustExec("ready", "app", "rm", "/tmp/ready")
	p = nt.waitPod("ready", "not Ready again", func(p *corev1.Pod) bool {
		cs := containerStatus(p, "app")
		return !conditionTrue(p, corev1.PodReady) && cs != nil && !cs.Ready
	})
	if cs := containerStatus(p, "app"); cs.RestartCount != 0 {
		t.Errorf("a readiness failure restarted the container: %s", describeStatus(p))
	}
}

// TestInitContainersRunInOrder: init containers run one after the other,
// to completion, before the app container starts.
func TestInitContainersRunInOrder(t *testing.T) {
	nt := newNodeTest(t)
	mount := []corev1.VolumeMount{{Name: "work", MountPath: "/work"}}
	init1, init2 := sh("init1", "echo init1 >> /work/order"), sh("init2", "sleep 0.3; echo init2 >> /work/order")
	app := sh("app", "echo app >> /work/order; cat /work/order; "+idle)
	init1.VolumeMounts, init2.VolumeMounts, app.VolumeMounts = mount, mount, mount
	pod := nt.simplePod("inits", app)
	pod.Spec.InitContainers = []corev1.Container{init1, init2}
	pod.Spec.Volumes = []corev1.Volume{{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	nt.create(pod)
	p := nt.waitRunning("inits")
	if got := nt.waitLogs("inits", "app", "app\n"); got != "init1\ninit2\napp\n" {
		t.Errorf("app printed %q, want init1, init2, app in that order", got)
	}
	if len(p.Status.InitContainerStatuses) != 2 {
		t.Fatalf("initContainerStatuses: %s", describeStatus(p))
	}
	var finished []time.Time
	for i, name := range []string{"init1", "init2"} {
		cs := p.Status.InitContainerStatuses[i]
		if cs.Name != name {
			t.Errorf("initContainerStatuses[%d] is %s, want %s (spec order)", i, cs.Name, name)
		}
		if term := cs.State.Terminated; term == nil || term.Reason != "Completed" || term.ExitCode != 0 {
			t.Errorf("%s: want terminated Completed exit 0: %s", name, stateString(cs.State))
		} else {
			finished = append(finished, term.FinishedAt.Time)
		}
	}
	if !conditionTrue(p, corev1.PodInitialized) {
		t.Errorf("Initialized not True: %s", describeStatus(p))
	}
	if cs := containerStatus(p, "app"); len(finished) == 2 && cs.State.Running.StartedAt.Before(&metav1.Time{Time: finished[1].Truncate(time.Second)}) {
		t.Errorf("app started at %v, before init2 finished at %v", cs.State.Running.StartedAt, finished[1])
	}
}

// TestGracefulDelete: TERM first, KILL after the grace period, preStop
// before TERM.
func TestGracefulDelete(t *testing.T) {
	nt := newNodeTest(t)
	hostDir := filepath.Join(nt.dir, "prestop-"+randHex(3))
	t.Cleanup(func() { os.RemoveAll(hostDir) })

	polite := nt.simplePod("polite", sh("c", `trap "echo bye; exit 0" TERM; echo trapped; while true; do sleep 0.1; done`))
	polite.Spec.TerminationGracePeriodSeconds = ptr.To[int64](30)
	stubborn := nt.simplePod("stubborn", sh("c", `trap "" TERM; echo trapped; while true; do sleep 0.1; done`))
	stubborn.Spec.TerminationGracePeriodSeconds = ptr.To[int64](30)
	hooked := nt.simplePod("hooked", sh("c", `trap "echo term >> /host/trace; exit 0" TERM; echo trapped; while true; do sleep 0.1; done`))
	hooked.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
		Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "echo prestop >> /host/trace"}}}}
	hooked.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "host", MountPath: "/host"}}
	hooked.Spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
		Path: hostDir, Type: ptr.To(corev1.HostPathDirectoryOrCreate)}}}}
	for _, p := range []*corev1.Pod{polite, stubborn, hooked} {
		nt.create(p)
	}
	for _, name := range []string{"polite", "stubborn", "hooked"} {
		nt.waitRunning(name)
		// Running is not "the shell has set its trap" yet; a TERM before
		// that is ignored (PID 1 of a PID namespace has no default
		// action), and the pod would wait out its whole grace period.
		nt.waitLogs(name, "c", "trapped")
	}

	// deleteAndTime deletes with a grace period and returns how long the
	// pod object took to go (the kubelet removes it once stopped).
	deleteAndTime := func(name string, grace int64) time.Duration {
		start := time.Now()
		if err := nt.kube.CoreV1().Pods(nt.ns).Delete(nt.ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To(grace)}); err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
		err := wait.PollUntilContextTimeout(nt.ctx, 50*time.Millisecond, podTimeout, true, func(ctx context.Context) (bool, error) {
			_, err := nt.kube.CoreV1().Pods(nt.ns).Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			t.Fatalf("pod %s still there %v after delete: %v", name, time.Since(start), err)
		}
		return time.Since(start)
	}

	t.Run("HandlesTERM", func(t *testing.T) {
		if d := deleteAndTime("polite", 10); d > 5*time.Second {
			t.Errorf("a container that exits on TERM took %v to go with grace 10s, want < 5s", d)
		}
	})
	t.Run("IgnoresTERM", func(t *testing.T) {
		d := deleteAndTime("stubborn", 2)
		if d < 1800*time.Millisecond || d > 6*time.Second {
			t.Errorf("a container ignoring TERM went after %v with grace 2s, want about 2s (KILL at the deadline)", d)
		}
	})
	t.Run("PreStopHook", func(t *testing.T) {
		deleteAndTime("hooked", 10)
		data, err := os.ReadFile(filepath.Join(hostDir, "trace"))
		if err != nil {
			t.Fatalf("the preStop hook left no trace: %v; events:%s", err, nt.events("hooked"))
		}
		if string(data) != "prestop\nterm\n" {
			t.Errorf("trace %q, want the preStop hook, then TERM", data)
		}
	})
}
