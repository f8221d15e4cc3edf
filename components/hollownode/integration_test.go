package hollownode_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/hollownode"
)

// TestHollowNodes runs a set of three hollow nodes against a real API
// server and plays the kubelet's part of a pod's life on them.
func TestHollowNodes(t *testing.T) {
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kube := kubernetes.NewForConfigOrDie(cfg)

	set, err := hollownode.Start(ctx, cfg, hollownode.Options{
		Count: 3, Zones: 2, RenewInterval: time.Second, StatusInterval: 2 * time.Second,
		JobDuration: time.Second, Cleanup: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Stop()

	// Three Ready nodes with zone labels, each with a lease that is renewed.
	for i, name := range set.Names() {
		n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		clustertest.Must(t, err)
		if !nodeReady(n) {
			t.Errorf("node %s is not Ready: %+v", name, n.Status.Conditions)
		}
		if got, want := n.Labels["topology.kubernetes.io/zone"], fmt.Sprintf("zone-%d", i%2); got != want {
			t.Errorf("node %s zone = %q, want %q", name, got, want)
		}
	}
	first := renewTime(t, ctx, kube, "hollow-node-0")
	waitFor(t, ctx, "hollow-node-0's lease to be renewed", func() (bool, error) {
		return renewTime(t, ctx, kube, "hollow-node-0").After(first), nil
	})
	// The status heartbeat (a strategic merge patch of the conditions)
	// moves lastHeartbeatTime and keeps lastTransitionTime.
	before := readyCondition(t, ctx, kube, "hollow-node-0")
	waitFor(t, ctx, "hollow-node-0's status heartbeat", func() (bool, error) {
		c := readyCondition(t, ctx, kube, "hollow-node-0")
		return c.LastHeartbeatTime.After(before.LastHeartbeatTime.Time) && c.LastTransitionTime.Equal(&before.LastTransitionTime), nil
	})

	// A pod placed on a node runs and gets an address from the fake range.
	clustertest.Create(t, ctx, kube.CoreV1().Pods("default"), pod("web", "hollow-node-0", corev1.RestartPolicyAlways, nil))
	p := waitForPod(t, ctx, kube, "web", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && podReady(p) })
	if p.Status.PodIP != "10.64.0.2" || p.Status.HostIP != "10.241.0.1" {
		t.Errorf("web: podIP %q hostIP %q, want 10.64.0.2 on 10.241.0.1", p.Status.PodIP, p.Status.HostIP)
	}
	if cs := p.Status.ContainerStatuses; len(cs) != 1 || cs[0].State.Running == nil || !cs[0].Ready {
		t.Errorf("web: container statuses %+v, want one running and ready", cs)
	}

	// Job-style pods finish: exit 0 → Succeeded, the exit-code annotation → Failed.
	clustertest.Create(t, ctx, kube.CoreV1().Pods("default"), pod("job-ok", "hollow-node-1", corev1.RestartPolicyNever, nil))
	clustertest.Create(t, ctx, kube.CoreV1().Pods("default"), pod("job-bad", "hollow-node-1", corev1.RestartPolicyNever,
		map[string]string{hollownode.AnnotationExitCode: "3"}))
	waitForPod(t, ctx, kube, "job-ok", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	bad := waitForPod(t, ctx, kube, "job-bad", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if term := bad.Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 3 {
		t.Errorf("job-bad: container state %+v, want terminated with exit code 3", bad.Status.ContainerStatuses[0].State)
	}

	// Deleting a pod on a live node: the hollow kubelet confirms the kill.
	clustertest.Must(t, kube.CoreV1().Pods("default").Delete(ctx, "web", metav1.DeleteOptions{}))
	waitFor(t, ctx, "web to be gone", func() (bool, error) {
		_, err := kube.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})

	// A failed node goes silent: its lease is frozen and its deleted pods
	// stay Terminating.
	clustertest.Create(t, ctx, kube.CoreV1().Pods("default"), pod("stuck", "hollow-node-2", corev1.RestartPolicyAlways, nil))
	waitForPod(t, ctx, kube, "stuck", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	clustertest.Must(t, set.Fail("hollow-node-2"))
	frozen := renewTime(t, ctx, kube, "hollow-node-2")
	clustertest.Must(t, kube.CoreV1().Pods("default").Delete(ctx, "stuck", metav1.DeleteOptions{}))
	time.Sleep(3 * time.Second) // three renew intervals, and more than the kill delay
	if got := renewTime(t, ctx, kube, "hollow-node-2"); !got.Equal(frozen) {
		t.Errorf("failed node's lease renewed: %v, then %v", frozen, got)
	}
	stuck, err := kube.CoreV1().Pods("default").Get(ctx, "stuck", metav1.GetOptions{})
	if err != nil || stuck.DeletionTimestamp == nil {
		t.Errorf("pod on a failed node: want it Terminating, got deletionTimestamp %v (err %v)", stuck.DeletionTimestamp, err)
	}

	// Revived, it renews again and finishes the kill.
	clustertest.Must(t, set.Revive("hollow-node-2"))
	waitFor(t, ctx, "the revived node to renew its lease", func() (bool, error) {
		return renewTime(t, ctx, kube, "hollow-node-2").After(frozen), nil
	})
	waitFor(t, ctx, "stuck to be gone", func() (bool, error) {
		_, err := kube.CoreV1().Pods("default").Get(ctx, "stuck", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})

	// A node deleted by someone else registers again, like a kubelet.
	old, err := kube.CoreV1().Nodes().Get(ctx, "hollow-node-1", metav1.GetOptions{})
	clustertest.Must(t, err)
	clustertest.Must(t, kube.CoreV1().Nodes().Delete(ctx, "hollow-node-1", metav1.DeleteOptions{}))
	waitFor(t, ctx, "hollow-node-1 to register again", func() (bool, error) {
		n, err := kube.CoreV1().Nodes().Get(ctx, "hollow-node-1", metav1.GetOptions{})
		return err == nil && n.UID != old.UID && nodeReady(n), nil
	})

	// Stop with Cleanup removes the nodes and their leases.
	set.Stop()
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	clustertest.Must(t, err)
	leases, err := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).List(ctx, metav1.ListOptions{})
	clustertest.Must(t, err)
	if len(nodes.Items) != 0 || len(leases.Items) != 0 {
		t.Errorf("after Stop: %d nodes and %d leases left, want none", len(nodes.Items), len(leases.Items))
	}
}

// TestScale registers 1000 hollow nodes and reports how long it took.
func TestScale(t *testing.T) {
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	set, err := hollownode.Start(ctx, cfg, hollownode.Options{Count: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Stop()
	t.Logf("registered %d hollow nodes (node + lease each) in %v", len(set.Names()), time.Since(start).Round(time.Millisecond))
	kube := kubernetes.NewForConfigOrDie(cfg)
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	clustertest.Must(t, err)
	ready := 0
	for i := range nodes.Items {
		if nodeReady(&nodes.Items[i]) {
			ready++
		}
	}
	if ready != 1000 {
		t.Errorf("%d of 1000 nodes Ready", ready)
	}
}

func pod(name, node string, restart corev1.RestartPolicy, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations},
		Spec: corev1.PodSpec{
			NodeName: node, RestartPolicy: restart,
			Containers: []corev1.Container{{Name: "main", Image: "busybox"}},
		},
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func readyCondition(t *testing.T, ctx context.Context, kube kubernetes.Interface, name string) corev1.NodeCondition {
	t.Helper()
	n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	clustertest.Must(t, err)
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c
		}
	}
	t.Fatalf("node %s has no Ready condition", name)
	return corev1.NodeCondition{}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func renewTime(t *testing.T, ctx context.Context, kube kubernetes.Interface, node string) time.Time {
	t.Helper()
	l, err := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, node, metav1.GetOptions{})
	clustertest.Must(t, err)
	if l.Spec.RenewTime == nil {
		t.Fatalf("lease %s has no renewTime", node)
	}
	return l.Spec.RenewTime.Time
}

func waitForPod(t *testing.T, ctx context.Context, kube kubernetes.Interface, name string, ok func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	waitFor(t, ctx, "pod "+name, func() (bool, error) {
		p, err := kube.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = p
		return ok(p), nil
	})
	return last
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) { return cond() }); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
