package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	configv1 "k8s.io/kube-scheduler/config/v1"

	"github.com/kubelab/kubelab/components/scheduler/framework"
)

// ErrReasonTooManyPods is upstream's wording when a node is at status.allocatable.pods.
const ErrReasonTooManyPods = "Too many pods"

// NodeResourcesFit rejects nodes without room for the pod's requests
// (allocatable minus what the pods already there request), and scores the
// rest by its scoring strategy:
//
//	LeastAllocated (default): score = free after placing / allocatable, so pods spread out
//	MostAllocated:            score = used after placing / allocatable, so nodes fill up in turn (bin packing)
//
// Each resource's score is weighted (cpu 1, memory 1 by default) and averaged.
type NodeResourcesFit struct {
	Strategy  configv1.ScoringStrategyType
	Resources []configv1.ResourceSpec
}

// NewNodeResourcesFit builds the plugin from NodeResourcesFitArgs.
func NewNodeResourcesFit(raw *runtime.RawExtension) (framework.Plugin, error) {
	p := &NodeResourcesFit{Strategy: configv1.LeastAllocated,
		Resources: []configv1.ResourceSpec{{Name: "cpu", Weight: 1}, {Name: "memory", Weight: 1}}}
	if raw == nil || len(raw.Raw) == 0 {
		return p, nil
	}
	var args configv1.NodeResourcesFitArgs
	if err := StrictJSON(raw.Raw, &args); err != nil {
		return nil, fmt.Errorf("NodeResourcesFit args: %w", err)
	}
	if s := args.ScoringStrategy; s != nil {
		switch s.Type {
		case "", configv1.LeastAllocated, configv1.MostAllocated:
		default:
			return nil, fmt.Errorf("NodeResourcesFit args: scoringStrategy.type %q is not supported (use LeastAllocated or MostAllocated)", s.Type)
		}
		if s.Type != "" {
			p.Strategy = s.Type
		}
		if len(s.Resources) > 0 {
			p.Resources = nil
			for i, r := range s.Resources {
				if r.Weight == 0 {
					r.Weight = 1
				}
				if r.Weight < 0 || r.Weight > 100 {
					return nil, fmt.Errorf("NodeResourcesFit args: scoringStrategy.resources[%d].weight %d must be in 1..100", i, r.Weight)
				}
				p.Resources = append(p.Resources, r)
			}
		}
	}
	return p, nil
}

// StrictJSON decodes data into v, refusing unknown fields so a typo in a
// config file is an error naming the field, not a silent default.
func StrictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// Name implements framework.Plugin.
func (*NodeResourcesFit) Name() string { return NodeResourcesFitName }

// Filter implements framework.FilterPlugin. Like upstream it reports every
// resource that is short, not just the first, and checks only what the pod
// requests.
func (*NodeResourcesFit) Filter(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	var reasons []string
	if int64(len(ni.Pods))+1 > ni.Allocatable.AllowedPodNumber {
		reasons = append(reasons, ErrReasonTooManyPods)
	}
	r, a, u := &pi.Requests, &ni.Allocatable, &ni.Requested
	if r.MilliCPU > 0 && r.MilliCPU > a.MilliCPU-u.MilliCPU {
		reasons = append(reasons, "Insufficient cpu")
	}
	if r.Memory > 0 && r.Memory > a.Memory-u.Memory {
		reasons = append(reasons, "Insufficient memory")
	}
	if r.EphemeralStorage > 0 && r.EphemeralStorage > a.EphemeralStorage-u.EphemeralStorage {
		reasons = append(reasons, "Insufficient ephemeral-storage")
	}
	for name, q := range r.Scalar {
		if q > 0 && q > a.Scalar[name]-u.Scalar[name] {
			reasons = append(reasons, "Insufficient "+string(name))
		}
	}
	if reasons == nil {
		return nil
	}
	return &framework.Status{Code: framework.Unschedulable, Reasons: reasons}
}

// Score implements framework.ScorePlugin.
func (p *NodeResourcesFit) Score(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, ni *framework.NodeInfo) (int64, *framework.Status) {
	var sum, weights int64
	for _, res := range p.Resources {
		alloc, req := amounts(pi, ni, corev1.ResourceName(res.Name), true)
		if alloc == 0 {
			continue
		}
		var s int64
		if req > alloc {
			req = alloc
		}
		if p.Strategy == configv1.MostAllocated {
			s = req * framework.MaxNodeScore / alloc
		} else {
			s = (alloc - req) * framework.MaxNodeScore / alloc
		}
		sum += s * res.Weight
		weights += res.Weight
	}
	if weights == 0 {
		return 0, nil
	}
	return sum / weights, nil
}

// amounts returns a node's allocatable and what would be requested on it
// with the pod placed; nonZero counts request-less containers at the
// defaults for cpu and memory.
func amounts(pi *framework.PodInfo, ni *framework.NodeInfo, name corev1.ResourceName, nonZero bool) (alloc, req int64) {
	switch name {
	case corev1.ResourceCPU:
		if nonZero {
			return ni.Allocatable.MilliCPU, ni.NonZeroRequested.MilliCPU + pi.NonZeroCPU
		}
		return ni.Allocatable.MilliCPU, ni.Requested.MilliCPU + pi.Requests.MilliCPU
	case corev1.ResourceMemory:
		if nonZero {
			return ni.Allocatable.Memory, ni.NonZeroRequested.Memory + pi.NonZeroMem
		}
		return ni.Allocatable.Memory, ni.Requested.Memory + pi.Requests.Memory
	case corev1.ResourceEphemeralStorage:
		return ni.Allocatable.EphemeralStorage, ni.Requested.EphemeralStorage + pi.Requests.EphemeralStorage
	default:
		return ni.Allocatable.Scalar[name], ni.Requested.Scalar[name] + pi.Requests.Scalar[name]
	}
}

// BalancedAllocation prefers nodes whose cpu and memory would be used in
// the same proportion after placing the pod, so neither runs out while the
// other sits idle: score = (1 - standard deviation of the fractions) * 100.
type BalancedAllocation struct{}

// Name implements framework.Plugin.
func (BalancedAllocation) Name() string { return BalancedAllocationName }

// Score implements framework.ScorePlugin.
func (BalancedAllocation) Score(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, ni *framework.NodeInfo) (int64, *framework.Status) {
	var fractions [2]float64
	for i, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		alloc, req := amounts(pi, ni, name, false)
		if alloc == 0 {
			return 0, nil
		}
		fractions[i] = math.Min(float64(req)/float64(alloc), 1)
	}
	std := math.Abs(fractions[0]-fractions[1]) / 2
	return int64((1 - std) * float64(framework.MaxNodeScore)), nil
}
