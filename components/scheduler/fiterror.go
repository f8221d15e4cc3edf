package scheduler

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kubelab/kubelab/components/scheduler/framework"
)

// ErrNoNodesAvailable is upstream's error when the cluster has no nodes.
var ErrNoNodesAvailable = errors.New("no nodes available to schedule pods")

// FitError says why no node fits: for each node, the first filter that
// rejected it. Its message is upstream's FailedScheduling text:
//
//	0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: },
//	2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for
//	scheduling, 2 No preemption victims found for incoming pod.
//
// Preemption is not implemented: the "preemption:" part is what upstream
// prints when preemption finds nothing to do (nodes rejected for reasons
// evicting pods cannot fix are "not helpful"; the others have no victims).
type FitError struct {
	NumAllNodes int
	// Statuses holds each rejected node's status.
	Statuses map[string]*framework.Status
	// PreFilterMsg is set when a PreFilter rejected the pod for all nodes.
	PreFilterMsg string
}

// Error implements error.
func (f *FitError) Error() string {
	msg := fmt.Sprintf("0/%d nodes are available:", f.NumAllNodes)
	if f.PreFilterMsg != "" {
		msg += " " + f.PreFilterMsg + "."
	} else {
		counts := map[string]int{}
		for _, s := range f.Statuses {
			for _, r := range s.Reasons {
				counts[r]++
			}
		}
		msg += " " + histogram(counts) + "."
	}
	unresolvable := 0
	for _, s := range f.Statuses {
		if s.Code == framework.UnschedulableAndUnresolvable {
			unresolvable++
		}
	}
	if f.PreFilterMsg != "" {
		unresolvable = f.NumAllNodes
	}
	pre := map[string]int{}
	if unresolvable > 0 {
		pre["Preemption is not helpful for scheduling"] = unresolvable
	}
	if n := f.NumAllNodes - unresolvable; n > 0 {
		pre["No preemption victims found for incoming pod"] = n
	}
	return msg + fmt.Sprintf(" preemption: 0/%d nodes are available: %s.", f.NumAllNodes, histogram(pre))
}

// histogram renders counts as "2 Insufficient cpu, 1 node(s) ..." sorted
// as strings, like upstream.
func histogram(counts map[string]int) string {
	parts := make([]string, 0, len(counts))
	for r, n := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// UnschedulablePlugins lists the plugins that rejected nodes.
func (f *FitError) UnschedulablePlugins() []string {
	set := map[string]bool{}
	for _, s := range f.Statuses {
		set[s.Plugin] = true
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	return out
}
