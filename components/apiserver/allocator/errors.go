package allocator

import (
	"errors"
	"fmt"
)

// The three ways a reservation can fail for reasons that are about the value
// asked for, not about etcd. Test for them with errors.Is; errors.As with
// *AllocationError gives the value and the range.
var (
	// ErrNotInRange: the IP or port lies outside the configured range (or is
	// one of the addresses never handed out: the network and IPv4 broadcast
	// addresses).
	ErrNotInRange = errors.New("not in the valid range")
	// ErrAllocated: somebody (maybe another apiserver replica) holds it.
	ErrAllocated = errors.New("already allocated")
	// ErrFull: AllocateNext found no free value.
	ErrFull = errors.New("range is full")
)

// AllocationError is what Allocate, AllocateNext and Release return when the
// input is the problem. Err is one of ErrNotInRange, ErrAllocated, ErrFull.
type AllocationError struct {
	What  string // "IP" or "port"
	Value string // the IP or port asked for ("" for ErrFull)
	Range string // the configured range, e.g. "10.32.0.0/24" or "30000-32767"
	Err   error
}

// Detail is the message without the value, worded like upstream Kubernetes so
// that `kubectl` users see familiar text next to the field path, e.g.
// `spec.clusterIPs[0]: Invalid value: "10.33.0.5": provided IP is not in the
// valid range. The range of valid IPs is 10.32.0.0/24`.
func (e *AllocationError) Detail() string {
	switch {
	case errors.Is(e.Err, ErrNotInRange):
		return fmt.Sprintf("provided %s is not in the valid range. The range of valid %ss is %s", e.What, e.What, e.Range)
	case errors.Is(e.Err, ErrAllocated):
		return fmt.Sprintf("provided %s is already allocated", e.What)
	case errors.Is(e.Err, ErrFull):
		return fmt.Sprintf("range is full (no free %s left in %s)", e.What, e.Range)
	default:
		return e.Err.Error()
	}
}

func (e *AllocationError) Error() string {
	if e.Value == "" {
		return e.Detail()
	}
	return fmt.Sprintf("%s %s: %s", e.What, e.Value, e.Detail())
}

func (e *AllocationError) Unwrap() error { return e.Err }
