package plugins

import (
	"context"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubelab/kubelab/components/scheduler/framework"
)

func node(name string, cpu, mem string, mut ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem), corev1.ResourcePods: resource.MustParse("3")},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		}}
	for _, m := range mut {
		m(n)
	}
	return n
}

func pod(name string, cpu, mem string, mut ...func(*corev1.Pod)) *corev1.Pod {
	req := corev1.ResourceList{}
	if cpu != "" {
		req[corev1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		req[corev1.ResourceMemory] = resource.MustParse(mem)
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: req}}}}}
	p.UID = types.UID("uid-" + p.Name)
	for _, m := range mut {
		m(p)
	}
	return p
}

// snap is a tiny NodeLister over NodeInfos.
type snap []*framework.NodeInfo

func (s snap) List() []*framework.NodeInfo                             { return s }
func (s snap) HavePodsWithAffinity() []*framework.NodeInfo             { return s }
func (s snap) HavePodsWithRequiredAntiAffinity() []*framework.NodeInfo { return s }
func (s snap) Get(string) *framework.NodeInfo                          { return nil }

// filter runs a plugin's PreFilter (if any) and Filter for p on ni.
func filter(t *testing.T, pl framework.Plugin, p *corev1.Pod, ni *framework.NodeInfo, all snap) *framework.Status {
	t.Helper()
	pi := framework.NewPodInfo(p)
	state := framework.NewCycleState()
	if pf, ok := pl.(framework.PreFilterPlugin); ok {
		if st := pf.PreFilter(context.Background(), state, pi, all); !st.IsSuccess() {
			return st
		}
		if state.FilterSkipped(pl.Name()) {
			return nil
		}
	}
	return pl.(framework.FilterPlugin).Filter(context.Background(), state, pi, ni)
}

func reasons(st *framework.Status) []string {
	if st == nil {
		return nil
	}
	return st.Reasons
}

func TestFilters(t *testing.T) {
	withPod := func(n *corev1.Node, pods ...*corev1.Pod) *framework.NodeInfo {
		ni := framework.NewNodeInfo(n)
		for _, p := range pods {
			p = p.DeepCopy()
			p.Spec.NodeName = n.Name
			ni.AddPod(framework.NewPodInfo(p))
		}
		return ni
	}
	web := func(p *corev1.Pod) { p.Labels = map[string]string{"app": "web"} }
	antiWeb := func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, TopologyKey: "kubernetes.io/hostname"}}}}
	}
	affWeb := func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, TopologyKey: "kubernetes.io/hostname"}}}}
	}
	hostPort := func(port int32) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: port}}
		}
	}
	tainted := func(n *corev1.Node) {
		n.Spec.Taints = []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}
	}
	fit, _ := NewNodeResourcesFit(nil)
	n1 := node("n1", "2", "4Gi")
	tests := []struct {
		name   string
		plugin framework.Plugin
		pod    *corev1.Pod
		ni     *framework.NodeInfo
		want   []string
	}{
		{"fits", fit, pod("p", "1", "1Gi"), withPod(n1), nil},
		{"insufficient cpu and memory", fit, pod("p", "3", "5Gi"), withPod(n1), []string{"Insufficient cpu", "Insufficient memory"}},
		{"counts pods already there", fit, pod("p", "1500m", ""), withPod(n1, pod("a", "1", "")), []string{"Insufficient cpu"}},
		{"too many pods", fit, pod("p", "", ""), withPod(n1, pod("a", "", ""), pod("b", "", ""), pod("c", "", "")), []string{"Too many pods"}},
		{"init container max", fit, pod("p", "500m", "", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")}}}}
		}), withPod(n1), []string{"Insufficient cpu"}},
		{"extended resource missing", fit, pod("p", "", "", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests["example.com/gpu"] = resource.MustParse("1")
		}), withPod(n1), []string{"Insufficient example.com/gpu"}},
		{"cordoned", NodeUnschedulable{}, pod("p", "", ""), withPod(node("n", "1", "1Gi", func(n *corev1.Node) { n.Spec.Unschedulable = true })), []string{ErrReasonUnschedulable}},
		{"cordoned but tolerated", NodeUnschedulable{}, pod("p", "", "", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists}}
		}), withPod(node("n", "1", "1Gi", func(n *corev1.Node) { n.Spec.Unschedulable = true })), nil},
		{"untolerated taint", TaintToleration{}, pod("p", "", ""), withPod(node("n", "1", "1Gi", tainted)), []string{"node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"}},
		{"tolerated taint", TaintToleration{}, pod("p", "", "", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
		}), withPod(node("n", "1", "1Gi", tainted)), nil},
		{"not ready", TaintToleration{}, pod("p", "", ""), withPod(node("n", "1", "1Gi", func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse })),
			[]string{"node(s) had untolerated taint {node.kubernetes.io/not-ready: }"}},
		{"no Ready condition", TaintToleration{}, pod("p", "", ""), withPod(node("n", "1", "1Gi", func(n *corev1.Node) { n.Status.Conditions = nil })),
			[]string{"node(s) had untolerated taint {node.kubernetes.io/unreachable: }"}},
		{"nodeSelector mismatch", NodeAffinity{}, pod("p", "", "", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }), withPod(n1), []string{ErrReasonNodeAffinity}},
		{"nodeSelector match", NodeAffinity{}, pod("p", "", "", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "n1"} }), withPod(n1), nil},
		{"required affinity NotIn", NodeAffinity{}, pod("p", "", "", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"n1"}}}}}}}}
		}), withPod(n1), []string{ErrReasonNodeAffinity}},
		{"host port conflict", NodePorts{}, pod("p", "", "", hostPort(8080)), withPod(n1, pod("a", "", "", hostPort(8080))), []string{ErrReasonPorts}},
		{"host port free", NodePorts{}, pod("p", "", "", hostPort(8080)), withPod(n1, pod("a", "", "", hostPort(9090))), nil},
		{"anti-affinity", InterPodAffinity{}, pod("p", "", "", web, antiWeb), withPod(n1, pod("a", "", "", web)), []string{ErrReasonAntiAffinityRulesNotMatch}},
		{"existing anti-affinity", InterPodAffinity{}, pod("p", "", "", web), withPod(n1, pod("a", "", "", antiWeb)), []string{ErrReasonExistingAntiAffinityRulesNotMatch}},
		{"affinity satisfied", InterPodAffinity{}, pod("p", "", "", affWeb), withPod(n1, pod("a", "", "", web)), nil},
		{"first pod of its own group", InterPodAffinity{}, pod("p", "", "", web, affWeb), withPod(n1), nil},
		{"affinity unmet", InterPodAffinity{}, pod("p", "", "", affWeb), withPod(n1), []string{ErrReasonAffinityRulesNotMatch}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := reasons(filter(t, tc.plugin, tc.pod, tc.ni, snap{tc.ni}))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("reasons %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTopologySpread(t *testing.T) {
	zone := func(z string) func(*corev1.Node) { return func(n *corev1.Node) { n.Labels["zone"] = z } }
	web := func(p *corev1.Pod) {
		p.Labels = map[string]string{"app": "web"}
		p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone",
			WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	}
	a := framework.NewNodeInfo(node("a", "4", "4Gi", zone("z1")))
	b := framework.NewNodeInfo(node("b", "4", "4Gi", zone("z2")))
	noZone := framework.NewNodeInfo(node("c", "4", "4Gi"))
	existing := pod("w1", "", "", web)
	existing.Spec.NodeName = "a"
	a.AddPod(framework.NewPodInfo(existing))
	all := snap{a, b, noZone}
	if got := reasons(filter(t, PodTopologySpread{}, pod("p", "", "", web), a, all)); !reflect.DeepEqual(got, []string{ErrReasonConstraintsNotMatch}) {
		t.Errorf("zone z1 already has one: %q", got)
	}
	if got := reasons(filter(t, PodTopologySpread{}, pod("p", "", "", web), b, all)); got != nil {
		t.Errorf("empty zone z2 refused: %q", got)
	}
	if got := reasons(filter(t, PodTopologySpread{}, pod("p", "", "", web), noZone, all)); !reflect.DeepEqual(got, []string{ErrReasonNodeLabelNotMatch}) {
		t.Errorf("node without zone: %q", got)
	}
}

func TestScores(t *testing.T) {
	ctx := context.Background()
	empty := framework.NewNodeInfo(node("empty", "4", "8Gi"))
	half := framework.NewNodeInfo(node("half", "4", "8Gi"))
	used := pod("u", "2", "4Gi")
	used.Spec.NodeName = "half"
	half.AddPod(framework.NewPodInfo(used))
	p := framework.NewPodInfo(pod("p", "1", "2Gi"))

	least, _ := NewNodeResourcesFit(nil)
	most, err := NewNodeResourcesFit(&runtime.RawExtension{Raw: []byte(`{"scoringStrategy":{"type":"MostAllocated","resources":[{"name":"cpu","weight":1},{"name":"memory","weight":1}]}}`)})
	if err != nil {
		t.Fatal(err)
	}
	score := func(pl framework.Plugin, ni *framework.NodeInfo) int64 {
		s, st := pl.(framework.ScorePlugin).Score(ctx, framework.NewCycleState(), p, ni)
		if !st.IsSuccess() {
			t.Fatal(st.Message())
		}
		return s
	}
	tests := []struct {
		name   string
		plugin framework.Plugin
		ni     *framework.NodeInfo
		want   int64
	}{
		{"least allocated empty node", least, empty, 75}, // (4-1)/4 = 75, (8-2)/8 = 75
		{"least allocated half node", least, half, 25},
		{"most allocated empty node", most, empty, 25},
		{"most allocated half node", most, half, 75},
		{"balanced", BalancedAllocation{}, half, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := score(tc.plugin, tc.ni); got != tc.want {
				t.Errorf("score %d, want %d", got, tc.want)
			}
		})
	}

	t.Run("taint toleration prefers fewer PreferNoSchedule taints", func(t *testing.T) {
		soft := framework.NewNodeInfo(node("soft", "4", "8Gi", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectPreferNoSchedule}}
		}))
		scores := []int64{score(TaintToleration{}, empty), score(TaintToleration{}, soft)}
		TaintToleration{}.NormalizeScore(ctx, nil, p, scores)
		if !reflect.DeepEqual(scores, []int64{100, 0}) {
			t.Errorf("scores %v, want [100 0]", scores)
		}
	})
	t.Run("preferred node affinity", func(t *testing.T) {
		pp := framework.NewPodInfo(pod("p", "", "", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
				Weight: 10, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{"half"}}}}}}}}
		}))
		state := framework.NewCycleState()
		NodeAffinity{}.PreScore(ctx, state, pp, nil, nil)
		var scores []int64
		for _, ni := range []*framework.NodeInfo{empty, half} {
			s, _ := NodeAffinity{}.Score(ctx, state, pp, ni)
			scores = append(scores, s)
		}
		NodeAffinity{}.NormalizeScore(ctx, state, pp, scores)
		if !reflect.DeepEqual(scores, []int64{0, 100}) {
			t.Errorf("scores %v, want [0 100]", scores)
		}
	})
}
