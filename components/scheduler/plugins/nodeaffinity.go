package plugins

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/kubelab/kubelab/components/scheduler/framework"
)

// ErrReasonNodeAffinity is upstream's NodeAffinity rejection.
const ErrReasonNodeAffinity = "node(s) didn't match Pod's node affinity/selector"

// NodeAffinity enforces spec.nodeSelector and required node affinity, and
// scores preferred node affinity (the sum of the weights of the terms a node
// matches, scaled so the best node gets 100).
type NodeAffinity struct{}

// Name implements framework.Plugin.
func (NodeAffinity) Name() string { return NodeAffinityName }

type nodeAffinityState struct {
	selector labels.Selector // spec.nodeSelector; nil when empty
	required *NodeSelector   // required node affinity; nil when none
}

// PreFilter implements framework.PreFilterPlugin: parse the selectors once
// per pod rather than once per node.
func (NodeAffinity) PreFilter(_ context.Context, state *framework.CycleState, pi *framework.PodInfo, _ framework.NodeLister) *framework.Status {
	pod := pi.Pod
	var st nodeAffinityState
	if len(pod.Spec.NodeSelector) > 0 {
		st.selector = labels.SelectorFromSet(pod.Spec.NodeSelector)
	}
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		ns, err := NewNodeSelector(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms)
		if err != nil {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, err.Error())
		}
		st.required = ns
	}
	if st.selector == nil && st.required == nil {
		state.SkipFilter(NodeAffinityName)
		return nil
	}
	state.Write(NodeAffinityName, &st)
	return nil
}

// Filter implements framework.FilterPlugin.
func (NodeAffinity) Filter(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	v, _ := state.Read(NodeAffinityName)
	st, _ := v.(*nodeAffinityState)
	if st == nil {
		return nil
	}
	if st.selector != nil && !st.selector.Matches(labels.Set(ni.Node.Labels)) ||
		st.required != nil && !st.required.Match(ni.Node) {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonNodeAffinity)
	}
	return nil
}

type preferredTerm struct {
	weight int64
	sel    *NodeSelector
}

// PreScore implements framework.PreScorePlugin.
func (NodeAffinity) PreScore(_ context.Context, state *framework.CycleState, pi *framework.PodInfo, _ []*framework.NodeInfo, _ framework.NodeLister) *framework.Status {
	a := pi.Pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		state.SkipScore(NodeAffinityName)
		return nil
	}
	var terms []preferredTerm
	for _, t := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		if t.Weight == 0 {
			continue
		}
		sel, err := NewNodeSelector([]corev1.NodeSelectorTerm{t.Preference})
		if err != nil {
			return framework.AsStatus(err)
		}
		terms = append(terms, preferredTerm{int64(t.Weight), sel})
	}
	state.Write(NodeAffinityName+"/score", terms)
	return nil
}

// Score implements framework.ScorePlugin.
func (NodeAffinity) Score(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, ni *framework.NodeInfo) (int64, *framework.Status) {
	v, _ := state.Read(NodeAffinityName + "/score")
	terms, _ := v.([]preferredTerm)
	var sum int64
	for _, t := range terms {
		if t.sel.Match(ni.Node) {
			sum += t.weight
		}
	}
	return sum, nil
}

// NormalizeScore implements framework.ScoreNormalizer.
func (NodeAffinity) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, scores []int64) *framework.Status {
	framework.DefaultNormalizeScore(false, scores)
	return nil
}

// NodeSelector is parsed NodeSelectorTerms: a node matches if any term
// matches; a term matches if all its label expressions and field
// expressions do; a term with neither matches nothing.
type NodeSelector struct {
	terms []nodeSelectorTerm
}

type nodeSelectorTerm struct {
	labels labels.Selector
	fields fields.Selector
}

var operators = map[corev1.NodeSelectorOperator]selection.Operator{
	corev1.NodeSelectorOpIn: selection.In, corev1.NodeSelectorOpNotIn: selection.NotIn,
	corev1.NodeSelectorOpExists: selection.Exists, corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	corev1.NodeSelectorOpGt: selection.GreaterThan, corev1.NodeSelectorOpLt: selection.LessThan,
}

// NewNodeSelector parses terms.
func NewNodeSelector(terms []corev1.NodeSelectorTerm) (*NodeSelector, error) {
	ns := &NodeSelector{}
	for _, t := range terms {
		if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
			continue
		}
		var term nodeSelectorTerm
		if len(t.MatchExpressions) > 0 {
			sel := labels.NewSelector()
			for _, e := range t.MatchExpressions {
				op, ok := operators[e.Operator]
				if !ok {
					return nil, fmt.Errorf("node selector operator %q for key %q is not valid", e.Operator, e.Key)
				}
				r, err := labels.NewRequirement(e.Key, op, e.Values)
				if err != nil {
					return nil, fmt.Errorf("node selector requirement on %q: %w", e.Key, err)
				}
				sel = sel.Add(*r)
			}
			term.labels = sel
		}
		if len(t.MatchFields) > 0 {
			var sels []fields.Selector
			for _, f := range t.MatchFields {
				if f.Key != "metadata.name" || len(f.Values) != 1 ||
					f.Operator != corev1.NodeSelectorOpIn && f.Operator != corev1.NodeSelectorOpNotIn {
					return nil, fmt.Errorf("node selector field %q %s %v: only metadata.name In/NotIn one value is supported", f.Key, f.Operator, f.Values)
				}
				if f.Operator == corev1.NodeSelectorOpIn {
					sels = append(sels, fields.OneTermEqualSelector(f.Key, f.Values[0]))
				} else {
					sels = append(sels, fields.OneTermNotEqualSelector(f.Key, f.Values[0]))
				}
			}
			term.fields = fields.AndSelectors(sels...)
		}
		ns.terms = append(ns.terms, term)
	}
	return ns, nil
}

// Match reports whether node matches.
func (ns *NodeSelector) Match(node *corev1.Node) bool {
	for _, t := range ns.terms {
		if t.labels != nil && !t.labels.Matches(labels.Set(node.Labels)) {
			continue
		}
		if t.fields != nil && !t.fields.Matches(fields.Set{"metadata.name": node.Name}) {
			continue
		}
		return true
	}
	return false
}
