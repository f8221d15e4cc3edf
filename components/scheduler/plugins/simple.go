package plugins

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/kubelab/kubelab/components/scheduler/framework"
)

// Reasons, worded exactly as upstream's plugins word them.
const (
	ErrReasonUnschedulable = "node(s) were unschedulable"
	ErrReasonPorts         = "node(s) didn't have free ports for the requested pod ports"
)

// NodeUnschedulable rejects cordoned nodes (spec.unschedulable, set by
// `kubectl cordon`) unless the pod tolerates the
// node.kubernetes.io/unschedulable:NoSchedule taint, as DaemonSet pods do.
type NodeUnschedulable struct{}

// Name implements framework.Plugin.
func (NodeUnschedulable) Name() string { return NodeUnschedulableName }

var unschedulableTaint = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}

// Filter implements framework.FilterPlugin.
func (NodeUnschedulable) Filter(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	if !ni.Node.Spec.Unschedulable || tolerates(pi.Pod.Spec.Tolerations, &unschedulableTaint) {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonUnschedulable)
}

func tolerates(tols []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tols {
		if tols[i].ToleratesTaint(klog.Background(), taint, true) {
			return true
		}
	}
	return false
}

// NodePorts rejects nodes where another pod already holds a host port the
// pod asks for. 0.0.0.0 conflicts with every address of the same protocol
// and port.
type NodePorts struct{}

// Name implements framework.Plugin.
func (NodePorts) Name() string { return NodePortsName }

// Filter implements framework.FilterPlugin.
func (NodePorts) Filter(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	for _, want := range pi.HostPorts {
		for _, used := range ni.UsedPorts {
			if want.Port == used.Port && want.Protocol == used.Protocol &&
				(want.IP == used.IP || want.IP == "0.0.0.0" || used.IP == "0.0.0.0") {
				return framework.NewStatus(framework.Unschedulable, ErrReasonPorts)
			}
		}
	}
	return nil
}

// ImageLocality prefers nodes that already have the pod's images
// (node.status.images), so the pod starts without a pull. Like upstream, an
// image counts for more when it is spread over many nodes less (it is
// scaled by the share of nodes that have it), and the sum is mapped
// between 23 MB and 1000 MB per container onto 0..100.
type ImageLocality struct{}

// Name implements framework.Plugin.
func (ImageLocality) Name() string { return ImageLocalityName }

const (
	minThreshold          int64 = 23 * 1024 * 1024
	maxContainerThreshold int64 = 1000 * 1024 * 1024
)

type imageState struct {
	// spread[image] = how many nodes have it; total = nodes.
	spread map[string]int
	total  int
}

// PreScore implements framework.PreScorePlugin.
func (ImageLocality) PreScore(_ context.Context, state *framework.CycleState, pi *framework.PodInfo, _ []*framework.NodeInfo, nodes framework.NodeLister) *framework.Status {
	want := map[string]int{}
	for _, c := range pi.Pod.Spec.Containers {
		want[normalizeImage(c.Image)] = 0
	}
	all := nodes.List()
	for _, ni := range all {
		for _, img := range ni.Node.Status.Images {
			for _, name := range img.Names {
				if _, ok := want[normalizeImage(name)]; ok {
					want[normalizeImage(name)]++
					break
				}
			}
		}
	}
	state.Write(ImageLocalityName, &imageState{spread: want, total: len(all)})
	return nil
}

// Score implements framework.ScorePlugin.
func (ImageLocality) Score(_ context.Context, state *framework.CycleState, pi *framework.PodInfo, ni *framework.NodeInfo) (int64, *framework.Status) {
	v, _ := state.Read(ImageLocalityName)
	st, _ := v.(*imageState)
	if st == nil || st.total == 0 {
		return 0, nil
	}
	var sum int64
	for _, img := range ni.Node.Status.Images {
		for _, name := range img.Names {
			if n, ok := st.spread[normalizeImage(name)]; ok && n > 0 {
				sum += img.SizeBytes * int64(n) / int64(st.total)
				break
			}
		}
	}
	maxThreshold := maxContainerThreshold * int64(len(pi.Pod.Spec.Containers))
	sum = min(max(sum, minThreshold), maxThreshold)
	return framework.MaxNodeScore * (sum - minThreshold) / (maxThreshold - minThreshold), nil
}

// normalizeImage adds the ":latest" tag an untagged image name implies.
func normalizeImage(name string) string {
	for i := len(name) - 1; i >= 0 && name[i] != '/'; i-- {
		if name[i] == ':' || name[i] == '@' {
			return name
		}
	}
	return name + ":latest"
}
