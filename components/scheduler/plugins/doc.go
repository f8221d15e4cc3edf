// Package plugins holds the scheduler's filter and score plugins, one file
// each, named and worded like upstream's in-tree plugins so that a
// FailedScheduling message reads the same as on any Kubernetes cluster:
//
//	plugin                          filter says                                        score prefers
//	NodeUnschedulable               node(s) were unschedulable                         -
//	TaintToleration                 node(s) had untolerated taint {k: v}               fewer PreferNoSchedule taints
//	NodeAffinity                    node(s) didn't match Pod's node affinity/selector  preferred node affinity
//	NodePorts                       node(s) didn't have free ports ...                 -
//	NodeResourcesFit                Insufficient cpu, Too many pods, ...               LeastAllocated or MostAllocated
//	NodeResourcesBalancedAllocation -                                                  cpu and memory used evenly
//	PodTopologySpread               node(s) didn't match pod topology spread ...       -
//	InterPodAffinity                node(s) didn't match pod (anti-)affinity rules     preferred pod (anti-)affinity
//	ImageLocality                   -                                                  images already on the node
package plugins

import (
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubelab/kubelab/components/scheduler/framework"
)

// Plugin names, as in KubeSchedulerConfiguration.
const (
	NodeUnschedulableName  = "NodeUnschedulable"
	TaintTolerationName    = "TaintToleration"
	NodeAffinityName       = "NodeAffinity"
	NodePortsName          = "NodePorts"
	NodeResourcesFitName   = "NodeResourcesFit"
	BalancedAllocationName = "NodeResourcesBalancedAllocation"
	PodTopologySpreadName  = "PodTopologySpread"
	InterPodAffinityName   = "InterPodAffinity"
	ImageLocalityName      = "ImageLocality"
)

// Factory builds a plugin from its pluginConfig args (nil: defaults).
type Factory func(args *runtime.RawExtension) (framework.Plugin, error)

// Registry maps plugin names to factories.
var Registry = map[string]Factory{
	NodeUnschedulableName:  func(*runtime.RawExtension) (framework.Plugin, error) { return NodeUnschedulable{}, nil },
	TaintTolerationName:    func(*runtime.RawExtension) (framework.Plugin, error) { return TaintToleration{}, nil },
	NodeAffinityName:       func(*runtime.RawExtension) (framework.Plugin, error) { return NodeAffinity{}, nil },
	NodePortsName:          func(*runtime.RawExtension) (framework.Plugin, error) { return NodePorts{}, nil },
	NodeResourcesFitName:   NewNodeResourcesFit,
	BalancedAllocationName: func(*runtime.RawExtension) (framework.Plugin, error) { return BalancedAllocation{}, nil },
	PodTopologySpreadName:  func(*runtime.RawExtension) (framework.Plugin, error) { return PodTopologySpread{}, nil },
	InterPodAffinityName:   func(*runtime.RawExtension) (framework.Plugin, error) { return InterPodAffinity{}, nil },
	ImageLocalityName:      func(*runtime.RawExtension) (framework.Plugin, error) { return ImageLocality{}, nil },
}

// WeightedName is a plugin in a list, with its score weight.
type WeightedName struct {
	Name   string
	Weight int64
}

// DefaultFilters is upstream's default filter order (the ones we have):
// cheap, decisive checks first, since a node stops at its first failure.
var DefaultFilters = []string{
	NodeUnschedulableName, TaintTolerationName, NodeAffinityName, NodePortsName,
	NodeResourcesFitName, PodTopologySpreadName, InterPodAffinityName,
}

// DefaultScores are upstream's default score plugins and weights.
var DefaultScores = []WeightedName{
	{TaintTolerationName, 3}, {NodeAffinityName, 2}, {NodeResourcesFitName, 1},
	{BalancedAllocationName, 1}, {ImageLocalityName, 1}, {InterPodAffinityName, 2},
}
