package nodelifecycle_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/controllers/nodeipam"
	"github.com/kubelab/kubelab/components/controllers/nodelifecycle"
	"github.com/kubelab/kubelab/components/controllers/nodelifecycle/tainteviction"
)

// TestDeadNode runs node lifecycle, taint eviction and node IPAM against
// a real API server, with lab-short periods. Two "kubelets" (this test)
// renew their Leases; one stops. Its node turns Ready=Unknown and gets the
// unreachable taints, its pod is marked not ready and, tolerating the
// taint for 1s, is deleted a second later. Meanwhile both nodes got their
// own /24 of the pod network.
func TestDeadNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	kube := kubernetes.NewForConfigOrDie(cfg)

	factory := informers.NewSharedInformerFactory(kube, 0)
	rec := record.NewFakeRecorder(1000)
	go func() { // keep the fake recorder from blocking
		for range rec.Events {
		}
	}()
	nlc, err := nodelifecycle.New(kube, rec, factory.Core().V1().Nodes(), factory.Coordination().V1().Leases(), factory.Core().V1().Pods(),
		nodelifecycle.Options{MonitorPeriod: 500 * time.Millisecond, Periods: nodelifecycle.Periods{Grace: 4 * time.Second, Startup: 5 * time.Second}})
	clustertest.Must(t, err)
	tec, err := tainteviction.New(kube, rec, factory.Core().V1().Pods(), factory.Core().V1().Nodes(), nodelifecycle.AddNodeNameIndex)
	clustertest.Must(t, err)
	alloc, err := nodeipam.NewAllocator([]string{"10.200.0.0/16"}, 24, 64, []string{"10.32.0.0/24"})
	clustertest.Must(t, err)
	ipam, err := nodeipam.New(kube, rec, factory.Core().V1().Nodes(), alloc)
	clustertest.Must(t, err)
	factory.Start(ctx.Done())
	go nlc.Run(ctx)
	go tec.Run(ctx, 2)
	go ipam.Run(ctx, 1)

	// Two nodes, each with a Ready condition and a Lease we keep renewing.
	var deadStopped atomic.Bool
	for _, name := range []string{"alive", "dying"} {
		clustertest.Create(t, ctx, kube.CoreV1().Nodes(), readyNode(name))
		now := metav1.NewMicroTime(time.Now())
		clustertest.Create(t, ctx, kube.CoordinationV1().Leases(corev1.NamespaceNodeLease), &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: &name, RenewTime: &now},
		})
	}
	go renewLeases(ctx, kube, map[string]*atomic.Bool{"alive": new(atomic.Bool), "dying": &deadStopped})

	// A pod on the dying node, Ready, tolerating unreachable for 1s.
	one := int64(1)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: "dying", Containers: []corev1.Container{{Name: "web", Image: "nginx"}},
			Tolerations: []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &one}}},
	}
	created, err := kube.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	clustertest.Must(t, err)
	created.Status.Phase = corev1.PodRunning
	created.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	_, err = kube.CoreV1().Pods("default").UpdateStatus(ctx, created, metav1.UpdateOptions{})
	clustertest.Must(t, err)

	// IPAM: distinct /24s from the cluster CIDR.
	cidrs := map[string]string{}
	waitFor(t, ctx, 10*time.Second, "both nodes to get a pod CIDR", func() (bool, error) {
		for _, name := range []string{"alive", "dying"} {
			n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil || n.Spec.PodCIDR == "" {
				return false, err
			}
			cidrs[name] = n.Spec.PodCIDR
		}
		return true, nil
	})
	_, cluster, _ := net.ParseCIDR("10.200.0.0/16")
	for name, c := range cidrs {
		ip, ipnet, err := net.ParseCIDR(c)
		if ones, _ := ipnet.Mask.Size(); err != nil || ones != 24 || !cluster.Contains(ip) {
			t.Errorf("node %s podCIDR %q, want a /24 of 10.200.0.0/16", name, c)
		}
	}
	if cidrs["alive"] == cidrs["dying"] {
		t.Errorf("both nodes got %s", cidrs["alive"])
	}
	// A pod CIDR is set once: the API server refuses to change it.
	_, err = kube.CoreV1().Nodes().Patch(ctx, "alive", types.MergePatchType, []byte(`{"spec":{"podCIDR":"10.200.99.0/24","podCIDRs":["10.200.99.0/24"]}}`), metav1.PatchOptions{})
	if !apierrors.IsInvalid(err) {
		t.Errorf("changing a node's podCIDR: got %v, want Invalid", err)
	}

	// Nothing happens to healthy nodes past the grace period.
	time.Sleep(5 * time.Second) // > grace (4s: room for a lease write stalled by a busy disk)
	if n, _ := kube.CoreV1().Nodes().Get(ctx, "dying", metav1.GetOptions{}); readyOf(n) != corev1.ConditionTrue || len(n.Spec.Taints) != 0 {
		t.Fatalf("healthy node: Ready %s, taints %v", readyOf(n), n.Spec.Taints)
	}

	// The kubelet dies.
	deadStopped.Store(true)
	stopped := time.Now()
	waitFor(t, ctx, 15*time.Second, "the node to be Unknown and tainted unreachable", func() (bool, error) {
		n, err := kube.CoreV1().Nodes().Get(ctx, "dying", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return readyOf(n) == corev1.ConditionUnknown && hasTaint(n, corev1.TaintEffectNoExecute) && hasTaint(n, corev1.TaintEffectNoSchedule), nil
	})
	// grace (4s) + a monitor period (0.5s), with slack for a busy machine.
	if took := time.Since(stopped); took > 10*time.Second {
		t.Errorf("tainting took %s, want about grace + period", took)
	}
	if n, _ := kube.CoreV1().Nodes().Get(ctx, "alive", metav1.GetOptions{}); readyOf(n) != corev1.ConditionTrue || len(n.Spec.Taints) != 0 {
		t.Errorf("live node: Ready %s, taints %v", readyOf(n), n.Spec.Taints)
	}

	waitFor(t, ctx, 10*time.Second, "the pod to be evicted", func() (bool, error) {
		p, err := kube.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return p.DeletionTimestamp != nil, nil
	})
	p, err := kube.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
	clustertest.Must(t, err)
	conds := map[corev1.PodConditionType]corev1.PodCondition{}
	for _, c := range p.Status.Conditions {
		conds[c.Type] = c
	}
	if conds[corev1.PodReady].Status != corev1.ConditionFalse {
		t.Errorf("pod Ready = %+v, want False (node not ready)", conds[corev1.PodReady])
	}
	if c := conds[corev1.DisruptionTarget]; c.Status != corev1.ConditionTrue || c.Reason != "DeletionByTaintManager" {
		t.Errorf("pod DisruptionTarget = %+v, want True/DeletionByTaintManager", c)
	}
}

func readyNode(name string) *corev1.Node {
	now := metav1.Now()
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now,
		}}},
	}
}

// renewLeases plays the kubelets: renew each Lease every 200ms until its
// stop flag is set.
func renewLeases(ctx context.Context, kube kubernetes.Interface, stop map[string]*atomic.Bool) {
	leases := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	_ = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		for name, stopped := range stop {
			if stopped.Load() {
				continue
			}
			l, err := leases.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				continue
			}
			now := metav1.NewMicroTime(time.Now())
			l.Spec.RenewTime = &now
			_, _ = leases.Update(ctx, l, metav1.UpdateOptions{})
		}
		return false, nil
	})
}

func readyOf(n *corev1.Node) corev1.ConditionStatus {
	if n == nil {
		return ""
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}

func hasTaint(n *corev1.Node, effect corev1.TaintEffect) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeUnreachable && t.Effect == effect {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return cond()
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
