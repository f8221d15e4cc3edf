package plugins

import (
	"context"
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubelab/kubelab/components/scheduler/framework"
)

// Upstream's PodTopologySpread rejections.
const (
	ErrReasonConstraintsNotMatch = "node(s) didn't match pod topology spread constraints"
	ErrReasonNodeLabelNotMatch   = ErrReasonConstraintsNotMatch + " (missing required label)"
)

// PodTopologySpread enforces topologySpreadConstraints with
// whenUnsatisfiable: DoNotSchedule. For each constraint it counts the
// matching pods (same namespace, labelSelector) in each topology domain and
// lets a node through only if placing the pod there keeps
//
//	skew = pods in the node's domain + 1 - pods in the emptiest domain  <=  maxSkew
//
// Domains are the values of topologyKey among the nodes the pod could go
// to by its nodeSelector/node affinity (upstream's default
// nodeAffinityPolicy: Honor; taints are ignored, nodeTaintsPolicy: Ignore).
// ScheduleAnyway constraints (scoring) are not implemented.
type PodTopologySpread struct{}

// Name implements framework.Plugin.
func (PodTopologySpread) Name() string { return PodTopologySpreadName }

type spreadConstraint struct {
	maxSkew     int32
	topologyKey string
	minDomains  int32
	selector    labels.Selector
	selfMatch   int64
}

type spreadState struct {
	constraints []spreadConstraint
	counts      map[topologyPair]int64
	// minMatch is, per constraint, the count of its emptiest domain.
	minMatch []int64
}

// PreFilter implements framework.PreFilterPlugin.
func (PodTopologySpread) PreFilter(_ context.Context, state *framework.CycleState, pi *framework.PodInfo, nodes framework.NodeLister) *framework.Status {
	pod := pi.Pod
	var cs []spreadConstraint
	for _, c := range pod.Spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable != corev1.DoNotSchedule {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, fmt.Sprintf("topology spread constraint on %q: %v", c.TopologyKey, err))
		}
		if c.LabelSelector == nil {
			sel = labels.Nothing()
		}
		for _, key := range c.MatchLabelKeys { // like upstream: match pods of the same revision, say
			if v, ok := pod.Labels[key]; ok {
				r, err := labels.NewRequirement(key, "=", []string{v})
				if err == nil {
					sel = sel.Add(*r)
				}
			}
		}
		sc := spreadConstraint{maxSkew: c.MaxSkew, topologyKey: c.TopologyKey, selector: sel, minDomains: 1}
		if c.MinDomains != nil {
			sc.minDomains = *c.MinDomains
		}
		if sel.Matches(labels.Set(pod.Labels)) {
			sc.selfMatch = 1
		}
		cs = append(cs, sc)
	}
	if len(cs) == 0 {
		state.SkipFilter(PodTopologySpreadName)
		return nil
	}
	eligible, err := podNodeMatcher(pod)
	if err != nil {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, err.Error())
	}
	st := &spreadState{constraints: cs, counts: map[topologyPair]int64{}, minMatch: make([]int64, len(cs))}
	for _, ni := range nodes.List() {
		if !eligible(ni.Node) || !hasAllKeys(ni.Node, cs) {
			continue
		}
		for _, c := range cs {
			pair := topologyPair{c.topologyKey, ni.Node.Labels[c.topologyKey]}
			var n int64
			for _, p := range ni.Pods {
				if p.Pod.Namespace == pod.Namespace && p.Pod.DeletionTimestamp == nil && c.selector.Matches(labels.Set(p.Pod.Labels)) {
					n++
				}
			}
			st.counts[pair] += n
		}
	}
	for i, c := range cs {
		lowest, domains := int64(math.MaxInt64), int32(0)
		for pair, n := range st.counts {
			if pair.key == c.topologyKey {
				domains++
				lowest = min(lowest, n)
			}
		}
		if domains < c.minDomains || lowest == math.MaxInt64 {
			lowest = 0 // too few domains: count the missing ones as empty
		}
		st.minMatch[i] = lowest
	}
	state.Write(PodTopologySpreadName, st)
	return nil
}

func hasAllKeys(node *corev1.Node, cs []spreadConstraint) bool {
	for _, c := range cs {
		if _, ok := node.Labels[c.topologyKey]; !ok {
			return false
		}
	}
	return true
}

// podNodeMatcher is the pod's nodeSelector and required node affinity as a
// predicate on nodes.
func podNodeMatcher(pod *corev1.Pod) (func(*corev1.Node) bool, error) {
	sel := labels.SelectorFromSet(pod.Spec.NodeSelector)
	var req *NodeSelector
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		var err error
		if req, err = NewNodeSelector(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms); err != nil {
			return nil, err
		}
	}
	return func(n *corev1.Node) bool {
		return sel.Matches(labels.Set(n.Labels)) && (req == nil || req.Match(n))
	}, nil
}

// Filter implements framework.FilterPlugin.
func (PodTopologySpread) Filter(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	v, _ := state.Read(PodTopologySpreadName)
	st, _ := v.(*spreadState)
	if st == nil {
		return nil
	}
	for i, c := range st.constraints {
		val, ok := ni.Node.Labels[c.topologyKey]
		if !ok {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonNodeLabelNotMatch)
		}
		skew := st.counts[topologyPair{c.topologyKey, val}] + c.selfMatch - st.minMatch[i]
		if skew > int64(c.maxSkew) {
			return framework.NewStatus(framework.Unschedulable, ErrReasonConstraintsNotMatch)
		}
	}
	return nil
}
