package plugins

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubelab/kubelab/components/scheduler/framework"
)

// Upstream's InterPodAffinity rejections.
const (
	ErrReasonAffinityRulesNotMatch             = "node(s) didn't match pod affinity rules"
	ErrReasonAntiAffinityRulesNotMatch         = "node(s) didn't match pod anti-affinity rules"
	ErrReasonExistingAntiAffinityRulesNotMatch = "node(s) didn't satisfy existing pods anti-affinity rules"
)

// InterPodAffinity places pods near (affinity) or away from (anti-affinity)
// other pods. "Near" is a topology domain: all nodes with the same value of
// the term's topologyKey label (kubernetes.io/hostname: the node itself;
// topology.kubernetes.io/zone: its zone).
//
// PreFilter counts, per (topologyKey, value) pair, the pods that match the
// incoming pod's terms, and the existing pods whose required anti-affinity
// matches the incoming pod; Filter then only looks up the node's labels in
// those counts. Existing pods' anti-affinity is symmetric: a pod that must
// stay away from app=web keeps app=web pods away from it too.
type InterPodAffinity struct{}

// Name implements framework.Plugin.
func (InterPodAffinity) Name() string { return InterPodAffinityName }

type topologyPair struct{ key, value string }

type topologyCounts map[topologyPair]int64

func (m topologyCounts) add(node *corev1.Node, key string, v int64) {
	if val, ok := node.Labels[key]; ok {
		m[topologyPair{key, val}] += v
	}
}

type interPodState struct {
	existingAnti, affinity, anti topologyCounts
}

func matchesAll(terms []framework.AffinityTerm, pod *corev1.Pod) bool {
	for i := range terms {
		if !terms[i].Matches(pod) {
			return false
		}
	}
	return len(terms) > 0
}

// PreFilter implements framework.PreFilterPlugin.
func (InterPodAffinity) PreFilter(_ context.Context, state *framework.CycleState, pi *framework.PodInfo, nodes framework.NodeLister) *framework.Status {
	if pi.ParseError != nil {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, pi.ParseError.Error())
	}
	st := &interPodState{existingAnti: topologyCounts{}, affinity: topologyCounts{}, anti: topologyCounts{}}
	for _, ni := range nodes.HavePodsWithRequiredAntiAffinity() {
		for _, existing := range ni.PodsWithRequiredAntiAffinity {
			for i := range existing.RequiredAntiAffinity {
				t := &existing.RequiredAntiAffinity[i]
				if t.Matches(pi.Pod) {
					st.existingAnti.add(ni.Node, t.TopologyKey, 1)
				}
			}
		}
	}
	if len(pi.RequiredAffinity) == 0 && len(pi.RequiredAntiAffinity) == 0 {
		if len(st.existingAnti) == 0 {
			state.SkipFilter(InterPodAffinityName)
			return nil
		}
	} else {
		for _, ni := range nodes.List() {
			for _, existing := range ni.Pods {
				if matchesAll(pi.RequiredAffinity, existing.Pod) {
					for i := range pi.RequiredAffinity {
						st.affinity.add(ni.Node, pi.RequiredAffinity[i].TopologyKey, 1)
					}
				}
				for i := range pi.RequiredAntiAffinity {
					if t := &pi.RequiredAntiAffinity[i]; t.Matches(existing.Pod) {
						st.anti.add(ni.Node, t.TopologyKey, 1)
					}
				}
			}
		}
	}
	state.Write(InterPodAffinityName, st)
	return nil
}

// Filter implements framework.FilterPlugin.
func (InterPodAffinity) Filter(_ context.Context, state *framework.CycleState, pi *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	v, _ := state.Read(InterPodAffinityName)
	st, _ := v.(*interPodState)
	if st == nil {
		return nil
	}
	node := ni.Node
	if len(st.existingAnti) > 0 {
		for k, val := range node.Labels {
			if st.existingAnti[topologyPair{k, val}] > 0 {
				return framework.NewStatus(framework.Unschedulable, ErrReasonExistingAntiAffinityRulesNotMatch)
			}
		}
	}
	for i := range pi.RequiredAntiAffinity {
		t := &pi.RequiredAntiAffinity[i]
		if val, ok := node.Labels[t.TopologyKey]; ok && st.anti[topologyPair{t.TopologyKey, val}] > 0 {
			return framework.NewStatus(framework.Unschedulable, ErrReasonAntiAffinityRulesNotMatch)
		}
	}
	if len(pi.RequiredAffinity) > 0 {
		podsExist := true
		for i := range pi.RequiredAffinity {
			t := &pi.RequiredAffinity[i]
			val, ok := node.Labels[t.TopologyKey]
			if !ok {
				return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonAffinityRulesNotMatch)
			}
			if st.affinity[topologyPair{t.TopologyKey, val}] <= 0 {
				podsExist = false
			}
		}
		// The first pod of a group that wants to be with its own kind has
		// nobody to be near yet: let it go anywhere, as upstream does.
		if !podsExist && !(len(st.affinity) == 0 && matchesAll(pi.RequiredAffinity, pi.Pod)) {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonAffinityRulesNotMatch)
		}
	}
	return nil
}

// PreScore implements framework.PreScorePlugin: it adds up, per topology
// pair, the weights of preferred terms (the incoming pod's about existing
// pods, and existing pods' about the incoming one; anti-affinity
// subtracts). Existing pods' required affinity counts with weight 1
// (upstream's default hardPodAffinityWeight).
func (InterPodAffinity) PreScore(_ context.Context, state *framework.CycleState, pi *framework.PodInfo, _ []*framework.NodeInfo, nodes framework.NodeLister) *framework.Status {
	hasPreferred := len(pi.PreferredAffinity)+len(pi.PreferredAntiAffinity) > 0
	list := nodes.HavePodsWithAffinity()
	if hasPreferred {
		list = nodes.List()
	}
	scores := topologyCounts{}
	for _, ni := range list {
		pods := ni.PodsWithAffinity
		if hasPreferred {
			pods = ni.Pods
		}
		for _, existing := range pods {
			for i := range pi.PreferredAffinity {
				if t := &pi.PreferredAffinity[i]; t.Matches(existing.Pod) {
					scores.add(ni.Node, t.TopologyKey, int64(t.Weight))
				}
			}
			for i := range pi.PreferredAntiAffinity {
				if t := &pi.PreferredAntiAffinity[i]; t.Matches(existing.Pod) {
					scores.add(ni.Node, t.TopologyKey, -int64(t.Weight))
				}
			}
			for i := range existing.RequiredAffinity {
				if t := &existing.RequiredAffinity[i]; t.Matches(pi.Pod) {
					scores.add(ni.Node, t.TopologyKey, 1)
				}
			}
			for i := range existing.PreferredAffinity {
				if t := &existing.PreferredAffinity[i]; t.Matches(pi.Pod) {
					scores.add(ni.Node, t.TopologyKey, int64(t.Weight))
				}
			}
			for i := range existing.PreferredAntiAffinity {
				if t := &existing.PreferredAntiAffinity[i]; t.Matches(pi.Pod) {
					scores.add(ni.Node, t.TopologyKey, -int64(t.Weight))
				}
			}
		}
	}
	if len(scores) == 0 {
		state.SkipScore(InterPodAffinityName)
		return nil
	}
	state.Write(InterPodAffinityName+"/score", scores)
	return nil
}

// Score implements framework.ScorePlugin.
func (InterPodAffinity) Score(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, ni *framework.NodeInfo) (int64, *framework.Status) {
	v, _ := state.Read(InterPodAffinityName + "/score")
	scores, _ := v.(topologyCounts)
	var sum int64
	for pair, s := range scores {
		if val, ok := ni.Node.Labels[pair.key]; ok && val == pair.value {
			sum += s
		}
	}
	return sum, nil
}

// NormalizeScore implements framework.ScoreNormalizer: min..max onto 0..100
// (raw scores can be negative).
func (InterPodAffinity) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, scores []int64) *framework.Status {
	if len(scores) == 0 {
		return nil
	}
	lo, hi := scores[0], scores[0]
	for _, s := range scores {
		lo, hi = min(lo, s), max(hi, s)
	}
	for i, s := range scores {
		if hi > lo {
			scores[i] = framework.MaxNodeScore * (s - lo) / (hi - lo)
		} else {
			scores[i] = 0
		}
	}
	return nil
}
