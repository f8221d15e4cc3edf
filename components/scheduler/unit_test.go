package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	configv1 "k8s.io/kube-scheduler/config/v1"

	"github.com/kubelab/kubelab/components/scheduler/framework"
	"github.com/kubelab/kubelab/components/scheduler/plugins"
)

func testPod(name string, prio int32) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name)},
		Spec: corev1.PodSpec{Priority: &prio, Containers: []corev1.Container{{Name: "c"}}}}
}

func TestQueuePriorityAndBackoff(t *testing.T) {
	now := time.Unix(1000, 0)
	q := NewQueue(time.Second, 10*time.Second, time.Minute)
	q.now = func() time.Time { return now }
	q.Add(testPod("low", 0))
	now = now.Add(time.Millisecond)
	q.Add(testPod("high", 100))
	now = now.Add(time.Millisecond)
	q.Add(testPod("low2", 0))
	var order []string
	for i := 0; i < 3; i++ {
		p, _, _ := q.Pop()
		order = append(order, p.Pod.Name)
		q.Done(p)
	}
	if got := strings.Join(order, ","); got != "high,low,low2" {
		t.Errorf("pop order %s, want high,low,low2", got)
	}

	// An error sends the pod to backoffQ: 1s after the first attempt,
	// 2s after the second, ... at most 10s.
	q.Add(testPod("err", 0))
	for attempt, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second} {
		p, cycle, _ := q.Pop()
		q.AddUnschedulable(p, cycle) // no plugins: an error
		now = now.Add(wait - time.Millisecond)
		q.Flush()
		if a, b, _ := q.Lengths(); a != 0 || b != 1 {
			t.Fatalf("attempt %d: before %s active=%d backoff=%d, want 0/1", attempt+1, wait, a, b)
		}
		now = now.Add(time.Millisecond)
		q.Flush()
		if a, _, _ := q.Lengths(); a != 1 {
			t.Fatalf("attempt %d: after %s not active", attempt+1, wait)
		}
	}
}

func TestQueueUnschedulableMovedByEvent(t *testing.T) {
	now := time.Unix(1000, 0)
	q := NewQueue(time.Second, 10*time.Second, time.Minute)
	q.now = func() time.Time { return now }
	q.Add(testPod("big", 0))
	p, cycle, _ := q.Pop()
	p.UnschedulablePlugins = sets.New(plugins.NodeResourcesFitName)
	q.AddUnschedulable(p, cycle)
	if _, _, u := q.Lengths(); u != 1 {
		t.Fatalf("not parked as unschedulable")
	}
	q.MoveAll(sets.New(plugins.InterPodAffinityName)) // an event that cannot help
	if _, _, u := q.Lengths(); u != 1 {
		t.Fatalf("moved by an unrelated event")
	}
	now = now.Add(5 * time.Second) // past its back-off
	q.MoveAll(nil)                 // a node was added
	if a, _, u := q.Lengths(); a != 1 || u != 0 {
		t.Fatalf("node add: active=%d unschedulable=%d, want 1/0", a, u)
	}

	// A pod that fails in a cycle during which an event came goes to
	// backoffQ, not unschedulable: it may have missed the event.
	p, cycle, _ = q.Pop()
	q.MoveAll(nil)
	p.UnschedulablePlugins = sets.New(plugins.NodeResourcesFitName)
	q.AddUnschedulable(p, cycle)
	if _, b, _ := q.Lengths(); b != 1 {
		t.Fatalf("failed during a move: not in backoffQ")
	}

	// Parked pods are retried after maxUnschedulable anyway.
	q2 := NewQueue(time.Second, 10*time.Second, time.Minute)
	q2.now = func() time.Time { return now }
	q2.Add(testPod("x", 0))
	p, cycle, _ = q2.Pop()
	p.UnschedulablePlugins = sets.New(plugins.NodeResourcesFitName)
	q2.AddUnschedulable(p, cycle)
	now = now.Add(61 * time.Second)
	q2.Flush()
	if a, _, _ := q2.Lengths(); a != 1 {
		t.Fatalf("not flushed after 60s")
	}
}

func TestFitErrorMessage(t *testing.T) {
	fe := &FitError{NumAllNodes: 3, Statuses: map[string]*framework.Status{
		"cp": {Code: framework.UnschedulableAndUnresolvable, Reasons: []string{"node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"}, Plugin: "TaintToleration"},
		"n1": {Code: framework.Unschedulable, Reasons: []string{"Insufficient cpu"}, Plugin: "NodeResourcesFit"},
		"n2": {Code: framework.Unschedulable, Reasons: []string{"Insufficient cpu", "Insufficient memory"}, Plugin: "NodeResourcesFit"},
	}}
	want := "0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. " +
		"preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
	if got := fe.Error(); got != want {
		t.Errorf("message\n got %q\nwant %q", got, want)
	}
}

func TestParseConfig(t *testing.T) {
	const head = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
	tests := []struct {
		name, yaml string
		strategy   configv1.ScoringStrategyType
		wantErr    string
	}{
		{"default", head, configv1.LeastAllocated, ""},
		{"most allocated", head + `profiles:
- schedulerName: default-scheduler
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources: [{name: cpu, weight: 1}, {name: memory, weight: 1}]
`, configv1.MostAllocated, ""},
		{"unknown field", head + "profiles:\n- schedulerName: x\n  pluginConfg: []\n", "", `unknown field "pluginConfg"`},
		{"unknown arg field", head + "profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args: {scoringStratgy: {}}\n", "", `unknown field "scoringStratgy"`},
		{"unknown plugin", head + "profiles:\n- plugins:\n    score:\n      enabled: [{name: Nope}]\n", "", `profiles[0].plugins.score.enabled[0].name: unknown plugin "Nope"`},
		{"bad strategy", head + "profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args: {scoringStrategy: {type: Random}}\n", "", `scoringStrategy.type "Random"`},
		{"wrong kind", "apiVersion: v1\nkind: ConfigMap\n", "", "want kubescheduler.config.k8s.io/v1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tc.yaml))
			var profiles map[string]*Profile
			if err == nil {
				profiles, err = BuildProfiles(cfg)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var fit *plugins.NodeResourcesFit
			for _, s := range profiles[DefaultSchedulerName].Scores {
				if f, ok := s.Plugin.(*plugins.NodeResourcesFit); ok {
					fit = f
				}
			}
			if fit == nil || fit.Strategy != tc.strategy {
				t.Errorf("strategy %+v, want %s", fit, tc.strategy)
			}
		})
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	for _, tc := range []struct{ nodes, want int }{{3, 3}, {99, 99}, {100, 100}, {1000, 420}, {5000, 500}, {6000, 300}, {1500, 570}} {
		if got := NumFeasibleNodesToFind(0, tc.nodes); got != tc.want {
			t.Errorf("%d nodes: %d, want %d", tc.nodes, got, tc.want)
		}
	}
}

// clusterSnapshot builds n nodes with a few pods each, like the benchmark's.
func clusterSnapshot(n int) *Snapshot {
	c := NewCache(time.Minute)
	for i := 0; i < n; i++ {
		c.AddNode(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%05d", i)},
			Status: corev1.NodeStatus{
				Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110")},
				Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}})
	}
	s := NewSnapshot()
	c.UpdateSnapshot(s)
	return s
}

func benchPodInfo() *framework.PodInfo {
	p := testPod("p", 0)
	p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}
	return framework.NewPodInfo(p)
}

func TestAlgorithmPicksFeasibleNode(t *testing.T) {
	snap := clusterSnapshot(200)
	profiles, err := BuildProfiles(nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &Algorithm{Parallelism: 4}
	ex := &Explanation{}
	node, err := a.Schedule(context.Background(), profiles[DefaultSchedulerName], snap, benchPodInfo(), ex)
	if err != nil || node == "" {
		t.Fatalf("node %q err %v", node, err)
	}
	if ex.NodesToFind != 100 || ex.Feasible != ex.NodesToFind {
		t.Errorf("looked for %d, found %d", ex.NodesToFind, ex.Feasible)
	}
	big := testPod("big", 0)
	big.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64")}
	_, err = a.Schedule(context.Background(), profiles[DefaultSchedulerName], snap, framework.NewPodInfo(big), &Explanation{})
	var fe *FitError
	if !errors.As(err, &fe) || !strings.HasPrefix(fe.Error(), "0/200 nodes are available: 200 Insufficient cpu.") {
		t.Errorf("error %v", err)
	}
}

// BenchmarkSchedule5000Nodes is the scheduling algorithm alone (filter +
// score, no API server): one pod over 5000 nodes in memory.
func BenchmarkSchedule5000Nodes(b *testing.B) {
	snap := clusterSnapshot(5000)
	profiles, _ := BuildProfiles(nil)
	a := &Algorithm{Parallelism: 16}
	pi := benchPodInfo()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.Schedule(context.Background(), profiles[DefaultSchedulerName], snap, pi, &Explanation{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHardWayConfig: the hard way's kube-scheduler.yaml names the
// kubeconfig and leader election in the file, and the scheduler is started
// with --config alone.
func TestHardWayConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: "/var/lib/kubernetes/kube-scheduler.kubeconfig"
leaderElection:
  leaderElect: true
`))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{}
	fromConfigFile(&o, cfg)
	if o.Kubeconfig != "/var/lib/kubernetes/kube-scheduler.kubeconfig" {
		t.Errorf("kubeconfig = %q", o.Kubeconfig)
	}
	if !o.LeaderElection.Enabled {
		t.Error("leaderElect: true in the file did not enable leader election")
	}
	o = Options{Kubeconfig: "/flag.kubeconfig"}
	fromConfigFile(&o, cfg)
	if o.Kubeconfig != "/flag.kubeconfig" {
		t.Errorf("--kubeconfig should win over the file, got %q", o.Kubeconfig)
	}
}
