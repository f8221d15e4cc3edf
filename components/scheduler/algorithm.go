package scheduler

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"k8s.io/client-go/util/workqueue"

	"github.com/kubelab/kubelab/components/scheduler/framework"
)

// Like upstream: always look for at least 100 feasible nodes, and at
// least 5% of the cluster.
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
)

// Algorithm is one scheduling decision: filter, then score, then pick.
// It keeps the rotating start index between decisions, so successive pods
// look at different parts of a big cluster first.
type Algorithm struct {
	Parallelism int
	nextStart   int
}

// NumFeasibleNodesToFind is how many feasible nodes to find before
// scoring: all of them in small clusters, a shrinking share of big ones
// (percentage = 50 - nodes/125, at least 5%, at least 100 nodes), since
// scoring 5000 nodes to place one pod buys little over scoring 500.
func NumFeasibleNodesToFind(percentage int32, all int) int {
	if all < minFeasibleNodesToFind {
		return all
	}
	if percentage == 0 {
		percentage = int32(50 - all/125)
		if percentage < minFeasibleNodesPercentageToFind {
			percentage = minFeasibleNodesPercentageToFind
		}
	}
	n := all * int(percentage) / 100
	if n < minFeasibleNodesToFind {
		return minFeasibleNodesToFind
	}
	return n
}

// Schedule picks a node for pi from the snapshot, or returns a *FitError
// (no node fits), ErrNoNodesAvailable or a plugin's error. ex is filled
// with what happened, for the explain endpoint.
func (a *Algorithm) Schedule(ctx context.Context, prof *Profile, snap *Snapshot, pi *framework.PodInfo, ex *Explanation) (string, error) {
	nodes := snap.List()
	ex.TotalNodes = len(nodes)
	if len(nodes) == 0 {
		return "", ErrNoNodesAvailable
	}
	state := framework.NewCycleState()
	for _, pl := range prof.PreFilters {
		st := pl.PreFilter(ctx, state, pi, snap)
		if st.IsSuccess() || st.IsSkip() {
			continue
		}
		st.Plugin = pl.Name()
		if st.Code == framework.Error {
			return "", &PluginError{Plugin: pl.Name(), Msg: st.Message()}
		}
		fe := &FitError{NumAllNodes: len(nodes), Statuses: map[string]*framework.Status{}, PreFilterMsg: st.Message()}
		for _, ni := range nodes {
			fe.Statuses[ni.Node.Name] = st
		}
		ex.addRejected(fe.Statuses)
		return "", fe
	}

	feasible, rejected, err := a.findFeasible(ctx, prof, state, pi, nodes, ex)
	if err != nil {
		return "", err
	}
	ex.Feasible = len(feasible)
	ex.addRejected(rejected)
	if len(feasible) == 0 {
		return "", &FitError{NumAllNodes: len(nodes), Statuses: rejected}
	}
	if len(feasible) == 1 {
		ex.addScored(feasible, nil, nil, prof)
		return feasible[0].Node.Name, nil
	}
	totals, perPlugin, err := a.score(ctx, prof, state, pi, feasible, snap)
	if err != nil {
		return "", err
	}
	ex.addScored(feasible, totals, perPlugin, prof)
	return feasible[selectHost(totals)].Node.Name, nil
}

// PluginError is a plugin failing (not rejecting).
type PluginError struct{ Plugin, Msg string }

func (e *PluginError) Error() string { return "running " + e.Plugin + " plugin: " + e.Msg }

// findFeasible runs the filters over the nodes, in parallel, starting at
// the rotating index and stopping once enough feasible nodes are found.
func (a *Algorithm) findFeasible(ctx context.Context, prof *Profile, state *framework.CycleState, pi *framework.PodInfo,
	nodes []*framework.NodeInfo, ex *Explanation) ([]*framework.NodeInfo, map[string]*framework.Status, error) {
	want := NumFeasibleNodesToFind(prof.PercentageOfNodesToScore, len(nodes))
	ex.NodesToFind = want
	var filters []framework.FilterPlugin
	for _, f := range prof.Filters {
		if !state.FilterSkipped(f.Name()) {
			filters = append(filters, f)
		}
	}
	feasible := make([]*framework.NodeInfo, want)
	var found, processed atomic.Int32
	var mu sync.Mutex
	rejected := map[string]*framework.Status{}
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := a.nextStart % len(nodes)
	check := func(i int) {
		ni := nodes[(start+i)%len(nodes)]
		for _, f := range filters {
			st := f.Filter(ctx, state, pi, ni)
			if st.IsSuccess() {
				continue
			}
			st.Plugin = f.Name()
			processed.Add(1)
			mu.Lock()
			if st.Code == framework.Error && firstErr == nil {
				firstErr = &PluginError{Plugin: f.Name(), Msg: st.Message()}
				cancel()
			}
			rejected[ni.Node.Name] = st
			mu.Unlock()
			return
		}
		n := found.Add(1)
		if int(n) > want {
			cancel()
			found.Add(-1)
			return
		}
		processed.Add(1)
		feasible[n-1] = ni
	}
	if len(filters) == 0 {
		for i := 0; i < want; i++ {
			feasible[i] = nodes[(start+i)%len(nodes)]
		}
		found.Store(int32(want))
		processed.Store(int32(want))
	} else {
		workqueue.ParallelizeUntil(ctx, a.parallelism(), len(nodes), check, workqueue.WithChunkSize(chunkSize(len(nodes), a.parallelism())))
	}
	if firstErr != nil {
		return nil, nil, firstErr
	}
	a.nextStart = (start + int(processed.Load())) % len(nodes)
	ex.Evaluated = int(processed.Load())
	return feasible[:found.Load()], rejected, nil
}

func (a *Algorithm) parallelism() int {
	if a.Parallelism <= 0 {
		return 16
	}
	return a.Parallelism
}

// chunkSize is upstream's: about sqrt(n) nodes per work item, so workers
// check the stop condition often without contending on every node.
func chunkSize(n, workers int) int {
	s := int(math.Sqrt(float64(n)))
	if r := n/workers + 1; s > r {
		s = r
	}
	return max(s, 1)
}

// score runs the score plugins over the feasible nodes and returns each
// node's weighted total and each plugin's raw and normalized scores.
func (a *Algorithm) score(ctx context.Context, prof *Profile, state *framework.CycleState, pi *framework.PodInfo,
	feasible []*framework.NodeInfo, snap *Snapshot) ([]int64, []pluginScores, error) {
	for _, pl := range prof.PreScores {
		if st := pl.PreScore(ctx, state, pi, feasible, snap); !st.IsSuccess() && !st.IsSkip() {
			return nil, nil, &PluginError{Plugin: pl.Name(), Msg: st.Message()}
		}
	}
	var active []WeightedScore
	for _, s := range prof.Scores {
		if !state.ScoreSkipped(s.Plugin.Name()) {
			active = append(active, s)
		}
	}
	per := make([]pluginScores, len(active))
	for i, s := range active {
		per[i] = pluginScores{name: s.Plugin.Name(), weight: s.Weight, raw: make([]int64, len(feasible)), norm: make([]int64, len(feasible))}
	}
	var mu sync.Mutex
	var firstErr error
	workqueue.ParallelizeUntil(ctx, a.parallelism(), len(feasible), func(n int) {
		for i, s := range active {
			v, st := s.Plugin.Score(ctx, state, pi, feasible[n])
			if !st.IsSuccess() {
				mu.Lock()
				firstErr = &PluginError{Plugin: s.Plugin.Name(), Msg: st.Message()}
				mu.Unlock()
				return
			}
			per[i].raw[n] = v
		}
	}, workqueue.WithChunkSize(chunkSize(len(feasible), a.parallelism())))
	if firstErr != nil {
		return nil, nil, firstErr
	}
	totals := make([]int64, len(feasible))
	for i, s := range active {
		copy(per[i].norm, per[i].raw)
		if n, ok := s.Plugin.(framework.ScoreNormalizer); ok {
			if st := n.NormalizeScore(ctx, state, pi, per[i].norm); !st.IsSuccess() {
				return nil, nil, &PluginError{Plugin: s.Plugin.Name(), Msg: st.Message()}
			}
		}
		for n, v := range per[i].norm {
			totals[n] += v * s.Weight
		}
	}
	return totals, per, nil
}

type pluginScores struct {
	name      string
	weight    int64
	raw, norm []int64
}

// selectHost returns the index of a highest total, picking uniformly among
// ties by reservoir sampling (one pass, no list of the tied), as upstream:
// so equal nodes share the load instead of the first one taking it all.
func selectHost(totals []int64) int {
	best, seen := 0, 1
	for i := 1; i < len(totals); i++ {
		switch {
		case totals[i] > totals[best]:
			best, seen = i, 1
		case totals[i] == totals[best]:
			seen++
			if rand.IntN(seen) == 0 {
				best = i
			}
		}
	}
	return best
}
