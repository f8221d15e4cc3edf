// Package framework holds the vocabulary the scheduler and its plugins
// share: what a node looks like to the scheduler (NodeInfo: the Node plus
// the pods on it and what they request), what a pod needs (PodInfo), and the
// plugin extension points, modelled on upstream's scheduling framework:
//
//	PreFilter ─▶ Filter (per node, in parallel) ─▶ PreScore ─▶ Score (per node) ─▶ NormalizeScore
//
// A plugin implements only the points it cares about. Filter says yes or no
// for one node, with a reason a person can read ("Insufficient cpu"); Score
// says how much it likes a feasible node, 0 to 100.
package framework

import "strings"

// Code is a plugin's verdict.
type Code int

const (
	// Success: the node passes (or the step worked).
	Success Code = iota
	// Unschedulable: the pod does not fit now, but could if something
	// changed on the node (pods leave, preemption).
	Unschedulable
	// UnschedulableAndUnresolvable: no change of pods on this node helps
	// (wrong labels, a taint); preemption would skip such nodes.
	UnschedulableAndUnresolvable
	// Error: the plugin failed; the attempt is retried with back-off.
	Error
	// Skip: a PreFilter/PreScore says its Filter/Score has nothing to do
	// for this pod, so the scheduler leaves it out of the cycle.
	Skip
)

var codeNames = [...]string{"Success", "Unschedulable", "UnschedulableAndUnresolvable", "Error", "Skip"}

func (c Code) String() string { return codeNames[c] }

// Status is a plugin's answer. A nil *Status means Success, so the common
// case allocates nothing.
type Status struct {
	Code    Code
	Reasons []string
	// Plugin names who said it (filled in by the scheduler).
	Plugin string
}

// NewStatus builds a Status.
func NewStatus(code Code, reasons ...string) *Status {
	return &Status{Code: code, Reasons: reasons}
}

// AsStatus wraps an error.
func AsStatus(err error) *Status {
	if err == nil {
		return nil
	}
	return &Status{Code: Error, Reasons: []string{err.Error()}}
}

// IsSuccess reports whether s is nil or Success.
func (s *Status) IsSuccess() bool { return s == nil || s.Code == Success }

// IsSkip reports whether s is Skip.
func (s *Status) IsSkip() bool { return s != nil && s.Code == Skip }

// IsRejected reports whether s is one of the two Unschedulable codes.
func (s *Status) IsRejected() bool {
	return s != nil && (s.Code == Unschedulable || s.Code == UnschedulableAndUnresolvable)
}

// CodeOf returns s's code, Success for nil.
func (s *Status) CodeOf() Code {
	if s == nil {
		return Success
	}
	return s.Code
}

// Message joins the reasons.
func (s *Status) Message() string {
	if s == nil {
		return ""
	}
	return strings.Join(s.Reasons, ", ")
}
