package framework

import (
	"fmt"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
)

// PodInfo is a pod with what the scheduler computes from it once, not once
// per node: its requests, its host ports, its parsed affinity terms.
type PodInfo struct {
	Pod                    *corev1.Pod
	Requests               Resource
	NonZeroCPU, NonZeroMem int64
	HostPorts              []HostPort

	RequiredAffinity      []AffinityTerm
	RequiredAntiAffinity  []AffinityTerm
	PreferredAffinity     []AffinityTerm // with Weight
	PreferredAntiAffinity []AffinityTerm
	// ParseError is set when a label selector in the pod is invalid; the
	// pod then fails scheduling with it (the API server normally refuses
	// such pods first).
	ParseError error
}

// HostPort is a (hostIP, protocol, hostPort) a container asks for.
type HostPort struct {
	IP       string
	Protocol corev1.Protocol
	Port     int32
}

// AffinityTerm is a parsed PodAffinityTerm: which pods it is about
// (namespaces and label selector) and what "near" means (TopologyKey).
type AffinityTerm struct {
	Namespaces sets.Set[string]
	// AllNamespaces: namespaceSelector {} selects every namespace.
	AllNamespaces bool
	Selector      labels.Selector
	TopologyKey   string
	Weight        int32
}

// Matches reports whether the term selects pod.
func (t *AffinityTerm) Matches(pod *corev1.Pod) bool {
	if !t.AllNamespaces && !t.Namespaces.Has(pod.Namespace) {
		return false
	}
	return t.Selector.Matches(labels.Set(pod.Labels))
}

// NewPodInfo parses pod once.
func NewPodInfo(pod *corev1.Pod) *PodInfo {
	pi := &PodInfo{Pod: pod, Requests: PodRequests(pod)}
	pi.NonZeroCPU, pi.NonZeroMem = NonZeroRequests(pod)
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			ip := p.HostIP
			if ip == "" {
				ip = "0.0.0.0"
			}
			pi.HostPorts = append(pi.HostPorts, HostPort{IP: ip, Protocol: proto, Port: p.HostPort})
		}
	}
	aff := pod.Spec.Affinity
	if aff == nil {
		return pi
	}
	var err error
	add := func(dst *[]AffinityTerm, t *corev1.PodAffinityTerm, weight int32) {
		term, e := newAffinityTerm(pod, t, weight)
		if e != nil {
			err = e
			return
		}
		*dst = append(*dst, term)
	}
	if a := aff.PodAffinity; a != nil {
		for i := range a.RequiredDuringSchedulingIgnoredDuringExecution {
			add(&pi.RequiredAffinity, &a.RequiredDuringSchedulingIgnoredDuringExecution[i], 0)
		}
		for i := range a.PreferredDuringSchedulingIgnoredDuringExecution {
			w := &a.PreferredDuringSchedulingIgnoredDuringExecution[i]
			add(&pi.PreferredAffinity, &w.PodAffinityTerm, w.Weight)
		}
	}
	if a := aff.PodAntiAffinity; a != nil {
		for i := range a.RequiredDuringSchedulingIgnoredDuringExecution {
			add(&pi.RequiredAntiAffinity, &a.RequiredDuringSchedulingIgnoredDuringExecution[i], 0)
		}
		for i := range a.PreferredDuringSchedulingIgnoredDuringExecution {
			w := &a.PreferredDuringSchedulingIgnoredDuringExecution[i]
			add(&pi.PreferredAntiAffinity, &w.PodAffinityTerm, w.Weight)
		}
	}
	pi.ParseError = err
	return pi
}

// newAffinityTerm parses one term. With neither namespaces nor a
// namespaceSelector the term is about the pod's own namespace; an empty
// namespaceSelector ({}) means all namespaces. A non-empty namespaceSelector
// needs namespace labels, which this scheduler does not watch yet: such a
// term matches the listed namespaces only.
func newAffinityTerm(pod *corev1.Pod, t *corev1.PodAffinityTerm, weight int32) (AffinityTerm, error) {
	sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
	if err != nil {
		return AffinityTerm{}, fmt.Errorf("pod %s/%s affinity term label selector: %w", pod.Namespace, pod.Name, err)
	}
	if t.LabelSelector == nil {
		sel = labels.Nothing()
	}
	term := AffinityTerm{Namespaces: sets.New(t.Namespaces...), Selector: sel, TopologyKey: t.TopologyKey, Weight: weight}
	if ns := t.NamespaceSelector; ns != nil && len(ns.MatchLabels) == 0 && len(ns.MatchExpressions) == 0 {
		term.AllNamespaces = true
	}
	if len(t.Namespaces) == 0 && t.NamespaceSelector == nil {
		term.Namespaces.Insert(pod.Namespace)
	}
	return term, nil
}

// HasAffinity says whether the pod has any inter-pod (anti-)affinity term.
func (pi *PodInfo) HasAffinity() bool {
	return len(pi.RequiredAffinity)+len(pi.RequiredAntiAffinity)+len(pi.PreferredAffinity)+len(pi.PreferredAntiAffinity) > 0
}

// generation numbers every change to a NodeInfo, so a snapshot can copy
// only the nodes that changed since it was last brought up to date.
var generation atomic.Int64

// NextGeneration returns a new, larger generation number.
func NextGeneration() int64 { return generation.Add(1) }

// NodeInfo is one node as the scheduler sees it: the Node object and the
// pods on it (bound or assumed), with their requests added up.
type NodeInfo struct {
	Node *corev1.Node
	Pods []*PodInfo
	// PodsWithAffinity and PodsWithRequiredAntiAffinity are the subsets the
	// InterPodAffinity plugin walks, so pods without terms cost it nothing.
	PodsWithAffinity             []*PodInfo
	PodsWithRequiredAntiAffinity []*PodInfo
	Allocatable                  Resource
	Requested                    Resource
	// NonZeroRequested counts request-less containers at the defaults.
	NonZeroRequested Resource
	UsedPorts        []HostPort
	Generation       int64
}

// NewNodeInfo builds a NodeInfo for node with pods on it.
func NewNodeInfo(node *corev1.Node, pods ...*PodInfo) *NodeInfo {
	ni := &NodeInfo{Generation: NextGeneration()}
	ni.SetNode(node)
	for _, p := range pods {
		ni.AddPod(p)
	}
	return ni
}

// SetNode replaces the Node object.
func (ni *NodeInfo) SetNode(node *corev1.Node) {
	ni.Node = node
	ni.Allocatable = Resource{}
	if node != nil {
		ni.Allocatable = NewResource(node.Status.Allocatable)
	}
	ni.Generation = NextGeneration()
}

// Name is the node's name ("" without a Node).
func (ni *NodeInfo) Name() string {
	if ni.Node == nil {
		return ""
	}
	return ni.Node.Name
}

// AddPod counts a pod on the node.
func (ni *NodeInfo) AddPod(pi *PodInfo) {
	ni.Pods = append(ni.Pods, pi)
	if pi.HasAffinity() {
		ni.PodsWithAffinity = append(ni.PodsWithAffinity, pi)
	}
	if len(pi.RequiredAntiAffinity) > 0 {
		ni.PodsWithRequiredAntiAffinity = append(ni.PodsWithRequiredAntiAffinity, pi)
	}
	ni.Requested.AddResource(pi.Requests)
	ni.NonZeroRequested.MilliCPU += pi.NonZeroCPU
	ni.NonZeroRequested.Memory += pi.NonZeroMem
	ni.UsedPorts = append(ni.UsedPorts, pi.HostPorts...)
	ni.Generation = NextGeneration()
}

// RemovePod uncounts the pod with pod's UID; it reports whether it was there.
func (ni *NodeInfo) RemovePod(pod *corev1.Pod) bool {
	idx := -1
	for i, p := range ni.Pods {
		if p.Pod.UID == pod.UID {
			idx = i
			break
		}
	}
	if idx < 0 {
		return false
	}
	pi := ni.Pods[idx]
	ni.Pods = removeAt(ni.Pods, idx)
	ni.PodsWithAffinity = removePod(ni.PodsWithAffinity, pi)
	ni.PodsWithRequiredAntiAffinity = removePod(ni.PodsWithRequiredAntiAffinity, pi)
	ni.Requested.SubResource(pi.Requests)
	ni.NonZeroRequested.MilliCPU -= pi.NonZeroCPU
	ni.NonZeroRequested.Memory -= pi.NonZeroMem
	ni.UsedPorts = ni.UsedPorts[:0:0]
	for _, p := range ni.Pods {
		ni.UsedPorts = append(ni.UsedPorts, p.HostPorts...)
	}
	ni.Generation = NextGeneration()
	return true
}

// removeAt drops element i without disturbing slices shared with clones.
func removeAt(s []*PodInfo, i int) []*PodInfo {
	out := make([]*PodInfo, 0, len(s)-1)
	out = append(out, s[:i]...)
	return append(out, s[i+1:]...)
}

func removePod(s []*PodInfo, pi *PodInfo) []*PodInfo {
	for i, p := range s {
		if p == pi {
			return removeAt(s, i)
		}
	}
	return s
}

// Clone copies the NodeInfo so the copy can be read while the original
// changes. Pod slices are capped so appends to either never share memory.
func (ni *NodeInfo) Clone() *NodeInfo {
	return &NodeInfo{
		Node:                         ni.Node,
		Pods:                         ni.Pods[:len(ni.Pods):len(ni.Pods)],
		PodsWithAffinity:             ni.PodsWithAffinity[:len(ni.PodsWithAffinity):len(ni.PodsWithAffinity)],
		PodsWithRequiredAntiAffinity: ni.PodsWithRequiredAntiAffinity[:len(ni.PodsWithRequiredAntiAffinity):len(ni.PodsWithRequiredAntiAffinity)],
		Allocatable:                  ni.Allocatable.Clone(),
		Requested:                    ni.Requested.Clone(),
		NonZeroRequested:             ni.NonZeroRequested.Clone(),
		UsedPorts:                    ni.UsedPorts[:len(ni.UsedPorts):len(ni.UsedPorts)],
		Generation:                   ni.Generation,
	}
}
