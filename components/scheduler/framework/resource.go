package framework

import (
	corev1 "k8s.io/api/core/v1"
)

// Defaults the scorers use for containers that request nothing, like
// upstream: otherwise a node full of request-less pods would look empty.
const (
	DefaultMilliCPURequest int64 = 100               // 0.1 core
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024 // 200 MiB
)

// Resource is an amount of each schedulable resource.
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	// AllowedPodNumber is only meaningful for allocatable (status.allocatable.pods).
	AllowedPodNumber int64
	// Scalar holds extended resources (example.com/gpu, hugepages-2Mi, ...).
	Scalar map[corev1.ResourceName]int64
}

// NewResource reads a ResourceList.
func NewResource(rl corev1.ResourceList) Resource {
	var r Resource
	r.Add(rl)
	return r
}

// Add adds a ResourceList.
func (r *Resource) Add(rl corev1.ResourceList) {
	for name, q := range rl {
		switch name {
		case corev1.ResourceCPU:
			r.MilliCPU += q.MilliValue()
		case corev1.ResourceMemory:
			r.Memory += q.Value()
		case corev1.ResourceEphemeralStorage:
			r.EphemeralStorage += q.Value()
		case corev1.ResourcePods:
			r.AllowedPodNumber += q.Value()
		default:
			if isScalar(name) {
				r.addScalar(name, q.Value())
			}
		}
	}
}

// isScalar says whether the scheduler counts a resource name beyond the
// built-in ones: extended resources (a domain-qualified name outside
// kubernetes.io), hugepages-*, and attachable volume counts.
func isScalar(name corev1.ResourceName) bool {
	s := string(name)
	if len(s) > 10 && s[:10] == "hugepages-" || len(s) > 18 && s[:18] == "attachable-volumes-" {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			prefix := s[:i]
			return prefix != "kubernetes.io" && !hasSuffix(prefix, ".kubernetes.io") && prefix != "requests.kubernetes.io"
		}
	}
	return false
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

func (r *Resource) addScalar(name corev1.ResourceName, v int64) {
	if r.Scalar == nil {
		r.Scalar = map[corev1.ResourceName]int64{}
	}
	r.Scalar[name] += v
}

// AddResource adds o to r.
func (r *Resource) AddResource(o Resource) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	r.AllowedPodNumber += o.AllowedPodNumber
	for k, v := range o.Scalar {
		r.addScalar(k, v)
	}
}

// SubResource subtracts o from r.
func (r *Resource) SubResource(o Resource) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	r.AllowedPodNumber -= o.AllowedPodNumber
	for k, v := range o.Scalar {
		r.addScalar(k, -v)
	}
}

// Clone copies r (the Scalar map too).
func (r Resource) Clone() Resource {
	c := r
	if r.Scalar != nil {
		c.Scalar = make(map[corev1.ResourceName]int64, len(r.Scalar))
		for k, v := range r.Scalar {
			c.Scalar[k] = v
		}
	}
	return c
}

// setMax raises each amount in r to at least o's.
func (r *Resource) setMax(o Resource) {
	r.MilliCPU = max(r.MilliCPU, o.MilliCPU)
	r.Memory = max(r.Memory, o.Memory)
	r.EphemeralStorage = max(r.EphemeralStorage, o.EphemeralStorage)
	for k, v := range o.Scalar {
		if v > r.Scalar[k] {
			r.addScalar(k, v-r.Scalar[k])
		}
	}
}

// PodRequests computes what a pod asks of a node, as upstream does
// (component-helpers/resource.PodRequests): app containers run together, so
// their requests add up; init containers run one at a time before them, so
// the pod needs the largest of them; restartable init containers
// (sidecars) keep running, so they add to everything after them; the
// RuntimeClass overhead comes on top.
//
//	requests = max(sum(containers) + sum(sidecars), max over init i of (init_i + sidecars started before i)) + overhead
func PodRequests(pod *corev1.Pod) Resource {
	var apps Resource
	for i := range pod.Spec.Containers {
		apps.Add(pod.Spec.Containers[i].Resources.Requests)
	}
	var sidecars, initMax Resource
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		req := NewResource(c.Resources.Requests)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars.AddResource(req)
			initMax.setMax(sidecars)
			continue
		}
		req.AddResource(sidecars)
		initMax.setMax(req)
	}
	apps.AddResource(sidecars)
	apps.setMax(initMax)
	apps.Add(pod.Spec.Overhead)
	return apps
}

// NonZeroRequests is PodRequests' cpu and memory with the defaults filled in
// for containers that request none: what the scorers count.
func NonZeroRequests(pod *corev1.Pod) (milliCPU, memory int64) {
	nonZero := func(rl corev1.ResourceList) (int64, int64) {
		cpu, mem := DefaultMilliCPURequest, DefaultMemoryRequest
		if q, ok := rl[corev1.ResourceCPU]; ok {
			cpu = q.MilliValue()
		}
		if q, ok := rl[corev1.ResourceMemory]; ok {
			mem = q.Value()
		}
		return cpu, mem
	}
	for i := range pod.Spec.Containers {
		c, m := nonZero(pod.Spec.Containers[i].Resources.Requests)
		milliCPU += c
		memory += m
	}
	for i := range pod.Spec.InitContainers {
		c, m := nonZero(pod.Spec.InitContainers[i].Resources.Requests)
		milliCPU, memory = max(milliCPU, c), max(memory, m)
	}
	if q, ok := pod.Spec.Overhead[corev1.ResourceCPU]; ok {
		milliCPU += q.MilliValue()
	}
	if q, ok := pod.Spec.Overhead[corev1.ResourceMemory]; ok {
		memory += q.Value()
	}
	return milliCPU, memory
}
