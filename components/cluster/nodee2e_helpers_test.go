package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/utils/ptr"
)

const (
	busybox    = "localhost/kubelab/busybox:v1"
	testserver = "localhost/kubelab/testserver:v1"
	podTimeout = 45 * time.Second
)

// nodeTest is one test's view of the shared node: its own namespace,
// emptied (through the kubelet's graceful path) when the test ends.
type nodeTest struct {
	*e2eNode
	t   *testing.T
	ctx context.Context
	ns  string
}

func newNodeTest(t *testing.T) *nodeTest {
	t.Helper()
	n := node(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	name := strings.ToLower(strings.TrimPrefix(t.Name(), "Test"))
	name = strings.NewReplacer("/", "-", "_", "-").Replace(name)
	if len(name) > 50 {
		name = name[:50]
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name + "-" + randHex(2)}}
	if _, err := n.kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	nt := &nodeTest{e2eNode: n, t: t, ctx: ctx, ns: ns.Name}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		if err := n.deleteAllPods(cctx, ns.Name, 45*time.Second); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		_ = n.kube.CoreV1().Namespaces().Delete(cctx, ns.Name, metav1.DeleteOptions{})
	})
	return nt
}

// simplePod is a pod for our node with the given containers.
func (nt *nodeTest) simplePod(name string, cs ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: nt.ns},
		Spec: corev1.PodSpec{
			Containers:                    cs,
			TerminationGracePeriodSeconds: ptr.To[int64](2),
		},
	}
}

func sh(name, script string) corev1.Container {
	return corev1.Container{Name: name, Image: busybox, Command: []string{"sh", "-c", script}}
}

func (nt *nodeTest) create(pod *corev1.Pod) *corev1.Pod {
	nt.t.Helper()
	pod.Namespace = nt.ns
	p, err := nt.kube.CoreV1().Pods(nt.ns).Create(nt.ctx, pod, metav1.CreateOptions{})
	if err != nil {
		nt.t.Fatalf("create pod %s: %v", pod.Name, err)
	}
	return p
}

// waitPod polls the pod until cond holds; on timeout it fails with the
// last status seen and why.
func (nt *nodeTest) waitPod(name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	nt.t.Helper()
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(nt.ctx, 100*time.Millisecond, podTimeout, true, func(ctx context.Context) (bool, error) {
		p, err := nt.kube.CoreV1().Pods(nt.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		return cond(p), nil
	})
	if err != nil {
		nt.t.Fatalf("pod %s: waiting for %s: %v\nlast status: %s\nevents: %s", name, what, err, describeStatus(last), nt.events(name))
	}
	return last
}

func (nt *nodeTest) waitRunning(name string) *corev1.Pod {
	nt.t.Helper()
	return nt.waitPod(name, "Running with all containers started", func(p *corev1.Pod) bool {
		if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) != len(p.Spec.Containers) {
			return false
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Running == nil {
				return false
			}
		}
		return true
	})
}

func (nt *nodeTest) waitPhase(name string, phase corev1.PodPhase) *corev1.Pod {
	nt.t.Helper()
	return nt.waitPod(name, "phase "+string(phase), func(p *corev1.Pod) bool { return p.Status.Phase == phase })
}

func describeStatus(p *corev1.Pod) string {
	if p == nil {
		return "(never seen)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s node=%q podIP=%s reason=%q msg=%q", p.Status.Phase, p.Spec.NodeName, p.Status.PodIP, p.Status.Reason, p.Status.Message)
	for _, c := range p.Status.Conditions {
		fmt.Fprintf(&b, "\n  cond %s=%s %s %s", c.Type, c.Status, c.Reason, c.Message)
	}
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range list {
			fmt.Fprintf(&b, "\n  container %s ready=%v restarts=%d state=%s last=%s", cs.Name, cs.Ready, cs.RestartCount, stateString(cs.State), stateString(cs.LastTerminationState))
		}
	}
	return b.String()
}

func stateString(s corev1.ContainerState) string {
	switch {
	case s.Running != nil:
		return "running since " + s.Running.StartedAt.Format(time.RFC3339)
	case s.Waiting != nil:
		return fmt.Sprintf("waiting(%s: %s)", s.Waiting.Reason, s.Waiting.Message)
	case s.Terminated != nil:
		return fmt.Sprintf("terminated(%s, code %d)", s.Terminated.Reason, s.Terminated.ExitCode)
	}
	return "-"
}

// events lists the events about a pod, one per line, for failure messages
// and for tests that look for a reason.
func (nt *nodeTest) events(pod string) string {
	var b strings.Builder
	for _, e := range nt.eventList(pod) {
		fmt.Fprintf(&b, "\n  %s %s: %s", e.Type, e.Reason, e.Message)
	}
	return b.String()
}

func (nt *nodeTest) eventList(pod string) []corev1.Event {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := nt.kube.CoreV1().Events(nt.ns).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", pod).String()})
	if err != nil {
		return nil
	}
	return l.Items
}

// waitEvent waits until an event with this reason exists for the pod.
func (nt *nodeTest) waitEvent(pod, reason string) corev1.Event {
	nt.t.Helper()
	var found corev1.Event
	err := wait.PollUntilContextTimeout(nt.ctx, 200*time.Millisecond, podTimeout, true, func(context.Context) (bool, error) {
		for _, e := range nt.eventList(pod) {
			if e.Reason == reason {
				found = e
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		nt.t.Fatalf("pod %s: no %q event: %v; events:%s", pod, reason, err, nt.events(pod))
	}
	return found
}

// logs reads a container's log through the API server (which proxies to
// the kubelet), like kubectl logs.
func (nt *nodeTest) logs(pod, container string, previous bool) (string, error) {
	rc, err := nt.kube.CoreV1().Pods(nt.ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Previous: previous}).Stream(nt.ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

// waitLogs polls a container's log until it contains want.
func (nt *nodeTest) waitLogs(pod, container, want string) string {
	nt.t.Helper()
	var got string
	var lastErr error
	err := wait.PollUntilContextTimeout(nt.ctx, 100*time.Millisecond, podTimeout, true, func(context.Context) (bool, error) {
		got, lastErr = nt.logs(pod, container, false)
		return lastErr == nil && strings.Contains(got, want), nil
	})
	if err != nil {
		nt.t.Fatalf("logs of %s/%s never contained %q: %v (last: %q, err %v)", pod, container, want, err, got, lastErr)
	}
	return got
}

// exec runs cmd in a container through the API server with client-go's
// SPDY executor (kubectl exec's classic path) and returns stdout, stderr
// and the exit code.
func (nt *nodeTest) exec(pod, container string, cmd ...string) (stdout, stderr string, code int, err error) {
	return execIn(nt.ctx, nt.e2eNode, nt.ns, pod, container, cmd...)
}

func execIn(ctx context.Context, n *e2eNode, ns, pod, container string, cmd ...string) (stdout, stderr string, code int, err error) {
	req := n.kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(n.cfg, "POST", req.URL())
	if err != nil {
		return "", "", -1, err
	}
	var out, errb bytes.Buffer
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err = ex.StreamWithContext(sctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errb})
	var ce utilexec.CodeExitError
	if errors.As(err, &ce) {
		return out.String(), errb.String(), ce.Code, nil
	}
	if err != nil {
		return out.String(), errb.String(), -1, err
	}
	return out.String(), errb.String(), 0, nil
}

// mustExec is exec that fails the test unless the command exits 0.
func (nt *nodeTest) mustExec(pod, container string, cmd ...string) string {
	nt.t.Helper()
	out, errOut, code, err := nt.exec(pod, container, cmd...)
	if err != nil || code != 0 {
		nt.t.Fatalf("exec %q in %s/%s: code %d, err %v, stderr %q", cmd, pod, container, code, err, errOut)
	}
	return out
}

func containerStatus(p *corev1.Pod, name string) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func conditionTrue(p *corev1.Pod, t corev1.PodConditionType) bool {
	c := podCondition(p, t)
	return c != nil && c.Status == corev1.ConditionTrue
}
