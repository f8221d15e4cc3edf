package framework

import (
	"context"
	"sync"
)

// MaxNodeScore is the best score a plugin can give a node.
const MaxNodeScore int64 = 100

// Plugin is anything with a name; it implements one or more of the
// extension points below.
type Plugin interface {
	Name() string
}

// NodeLister gives PreFilter and PreScore plugins the cycle's view of the
// cluster: every node, with its pods, as of the cycle's snapshot.
type NodeLister interface {
	List() []*NodeInfo
	// HavePodsWithAffinity lists the nodes holding pods with inter-pod
	// affinity terms, HavePodsWithRequiredAntiAffinity those with required
	// anti-affinity terms (both usually short).
	HavePodsWithAffinity() []*NodeInfo
	HavePodsWithRequiredAntiAffinity() []*NodeInfo
	Get(name string) *NodeInfo
}

// PreFilterPlugin computes, once per pod, what its Filter needs (topology
// counts, say). Returning Skip leaves its Filter out of this cycle; a
// rejection fails the pod without looking at any node.
type PreFilterPlugin interface {
	Plugin
	PreFilter(ctx context.Context, state *CycleState, pod *PodInfo, nodes NodeLister) *Status
}

// FilterPlugin decides whether pod can run on node. It is called in
// parallel for many nodes, so it must only read state.
type FilterPlugin interface {
	Plugin
	Filter(ctx context.Context, state *CycleState, pod *PodInfo, node *NodeInfo) *Status
}

// PreScorePlugin prepares Score with the list of feasible nodes.
type PreScorePlugin interface {
	Plugin
	PreScore(ctx context.Context, state *CycleState, pod *PodInfo, feasible []*NodeInfo, nodes NodeLister) *Status
}

// ScorePlugin rates a feasible node. Raw scores may have any range when the
// plugin also implements ScoreNormalizer, which maps them onto 0..100.
type ScorePlugin interface {
	Plugin
	Score(ctx context.Context, state *CycleState, pod *PodInfo, node *NodeInfo) (int64, *Status)
}

// ScoreNormalizer rescales one plugin's raw scores (one per feasible node)
// in place to 0..MaxNodeScore.
type ScoreNormalizer interface {
	NormalizeScore(ctx context.Context, state *CycleState, pod *PodInfo, scores []int64) *Status
}

// CycleState carries data from a plugin's PreFilter/PreScore to its
// Filter/Score within one scheduling cycle. Writes happen before the
// parallel phases start; the lock is for safety, not speed.
type CycleState struct {
	mu   sync.RWMutex
	data map[string]any
	// Skip holds the plugins whose PreFilter/PreScore returned Skip.
	skipFilter, skipScore map[string]bool
}

// NewCycleState makes an empty state.
func NewCycleState() *CycleState {
	return &CycleState{data: map[string]any{}, skipFilter: map[string]bool{}, skipScore: map[string]bool{}}
}

// Write stores v under key.
func (c *CycleState) Write(key string, v any) {
	c.mu.Lock()
	c.data[key] = v
	c.mu.Unlock()
}

// Read returns what was stored under key.
func (c *CycleState) Read(key string) (any, bool) {
	c.mu.RLock()
	v, ok := c.data[key]
	c.mu.RUnlock()
	return v, ok
}

// SkipFilter marks a plugin's Filter as not needed in this cycle.
func (c *CycleState) SkipFilter(name string) { c.skipFilter[name] = true }

// SkipScore marks a plugin's Score as not needed in this cycle.
func (c *CycleState) SkipScore(name string) { c.skipScore[name] = true }

// FilterSkipped reports whether a plugin's Filter is skipped.
func (c *CycleState) FilterSkipped(name string) bool { return c.skipFilter[name] }

// ScoreSkipped reports whether a plugin's Score is skipped.
func (c *CycleState) ScoreSkipped(name string) bool { return c.skipScore[name] }

// DefaultNormalizeScore scales scores so the highest becomes MaxNodeScore;
// reverse turns "more is worse" counts (untolerated taints) into scores.
func DefaultNormalizeScore(reverse bool, scores []int64) {
	var highest int64
	for _, s := range scores {
		highest = max(highest, s)
	}
	for i, s := range scores {
		if highest == 0 {
			if reverse {
				scores[i] = MaxNodeScore
			}
			continue
		}
		s = MaxNodeScore * s / highest
		if reverse {
			s = MaxNodeScore - s
		}
		scores[i] = s
	}
}
