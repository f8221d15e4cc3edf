package scheduler_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/scheduler"
)

func readyNode(name, cpu string, labels map[string]string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu),
				corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
}

func createNode(t *testing.T, ctx context.Context, kube kubernetes.Interface, n *corev1.Node) {
	t.Helper()
	created, err := kube.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	clustertest.Must(t, err)
	created.Status = n.Status
	_, err = kube.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
	clustertest.Must(t, err)
}

func cpuPod(name, cpu, schedulerName string, selector map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{SchedulerName: schedulerName, NodeSelector: selector, Containers: []corev1.Container{{
			Name: "c", Image: "nginx",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}},
		}}},
	}
}

func waitBound(t *testing.T, ctx context.Context, kube kubernetes.Interface, name string) string {
	t.Helper()
	var node string
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := kube.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		node = p.Spec.NodeName
		return node != "", nil
	})
	if err != nil {
		t.Fatalf("pod %s not bound: %v", name, err)
	}
	return node
}

func waitEvent(t *testing.T, ctx context.Context, kube kubernetes.Interface, pod, reason string) string {
	t.Helper()
	var msg string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		evs, err := kube.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == pod && e.Reason == reason {
				msg = e.Message
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no %s event for %s: %v", reason, pod, err)
	}
	return msg
}

func TestSchedulerIntegration(t *testing.T) {
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kube := kubernetes.NewForConfigOrDie(cfg)

	conf := filepath.Join(t.TempDir(), "sched.yaml")
	clustertest.Must(t, os.WriteFile(conf, []byte(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
- schedulerName: bin-packer
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources: [{name: cpu, weight: 1}, {name: memory, weight: 1}]
`), 0o600))
	for i := 1; i <= 3; i++ {
		createNode(t, ctx, kube, readyNode(fmt.Sprintf("node-%d", i), "4", map[string]string{"group": "a"}))
	}
	started := make(chan struct{})
	s, err := scheduler.New(scheduler.Options{Config: cfg, ConfigFile: conf, Started: func() { close(started) }})
	clustertest.Must(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-started

	t.Run("LeastAllocated spreads", func(t *testing.T) {
		seen := map[string]bool{}
		for i := 0; i < 3; i++ {
			name := fmt.Sprintf("spread-%d", i)
			clustertest.Create(t, ctx, kube.CoreV1().Pods("default"), cpuPod(name, "500m", "", nil))
			seen[waitBound(t, ctx, kube, name)] = true
		}
		if len(seen) != 3 {
			t.Errorf("LeastAllocated put 3 pods on %d nodes %v, want 3", len(seen), seen)
		}
		msg := waitEvent(t, ctx, kube, "spread-0", "Scheduled")
		if !strings.HasPrefix(msg, "Successfully assigned default/spread-0 to node-") {
			t.Errorf("Scheduled message %q", msg)
		}
		ex, ok := s.Explain("default", "spread-2")
		if !ok || ex.Result != "Scheduled" || len(ex.Nodes) != 3 {
			t.Errorf("explanation %+v", ex)
		}
	})

	t.Run("MostAllocated packs", func(t *testing.T) {
		for i := 4; i <= 6; i++ {
			createNode(t, ctx, kube, readyNode(fmt.Sprintf("node-%d", i), "4", map[string]string{"group": "b"}))
		}
		seen := map[string]bool{}
		for i := 0; i < 4; i++ {
			name := fmt.Sprintf("pack-%d", i)
			clustertest.Create(t, ctx, kube.CoreV1().Pods("default"), cpuPod(name, "500m", "bin-packer", map[string]string{"group": "b"}))
			seen[waitBound(t, ctx, kube, name)] = true
		}
		if len(seen) != 1 {
			t.Errorf("MostAllocated put 4 pods on %d nodes %v, want 1", len(seen), seen)
		}
	})

	t.Run("unschedulable until a node is added", func(t *testing.T) {
		clustertest.Create(t, ctx, kube.CoreV1().Pods("default"), cpuPod("big", "10", "", nil))
		msg := waitEvent(t, ctx, kube, "big", "FailedScheduling")
		want := "0/6 nodes are available: 6 Insufficient cpu. preemption: 0/6 nodes are available: 6 No preemption victims found for incoming pod."
		if msg != want {
			t.Errorf("FailedScheduling message\n got %q\nwant %q", msg, want)
		}
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			p, err := kube.CoreV1().Pods("default").Get(ctx, "big", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == "Unschedulable" && c.Message == want {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Errorf("PodScheduled=False Unschedulable not set: %v", err)
		}
		createNode(t, ctx, kube, readyNode("node-big", "16", nil))
		if node := waitBound(t, ctx, kube, "big"); node != "node-big" {
			t.Errorf("big went to %s, want node-big", node)
		}
	})
}
