package hollownode

import (
	"github.com/kubelab/kubelab/components/nodestatus"

	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/netip"
	"runtime"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubelab/kubelab/components/version"
)

// Labels and values a hollow node carries besides the well-known ones.
const (
	// labelType=hollow is what kubemark's hollow nodes carry, so manifests
	// written for kubemark can select (or avoid) them.
	labelType     = "type"
	hollow        = "hollow"
	labelZone     = "topology.kubernetes.io/zone"
	kubeletPort   = 10250
	osImage       = "kubelab hollow node"
	runtimeString = "hollow://1.0"
)

// nodeInternalIP is node i's fake address: 10.241.0.0 + i + 1.
func nodeInternalIP(index int) netip.Addr {
	return addrAdd(netip.MustParseAddr("10.241.0.0"), uint64(index+1))
}

// buildNode is the Node a kubelet registers: labels, taints, and a full
// status (capacity, conditions, addresses, node info) so the node is Ready
// from its first write.
func buildNode(o *Options, name string, index int, now metav1.Time) *corev1.Node {
	labels := map[string]string{
		corev1.LabelHostname:           name,
		corev1.LabelOSStable:           "linux",
		corev1.LabelArchStable:         runtime.GOARCH,
		corev1.LabelInstanceTypeStable: hollow,
		labelType:                      hollow,
	}
	if o.Zones > 0 {
		labels[labelZone] = "zone-" + strconv.Itoa(index%o.Zones)
	}
	maps.Copy(labels, o.Labels)
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: labels,
			// The kubelet's default: volumes are attached by the
			// attach/detach controller, not by the kubelet.
			Annotations: map[string]string{"volumes.kubernetes.io/controller-managed-attach-detach": "true"},
		},
		Spec:   corev1.NodeSpec{Taints: append([]corev1.Taint(nil), o.Taints...)},
		Status: nodeStatus(o, name, index, now, nil),
	}
}

// nodeStatus is the status a healthy hollow node reports. prev are the
// conditions already stored: a condition keeps its lastTransitionTime while
// its status does not change.
func nodeStatus(o *Options, name string, index int, now metav1.Time, prev []corev1.NodeCondition) corev1.NodeStatus {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse(o.CPU),
		corev1.ResourceMemory:           resource.MustParse(o.Memory),
		corev1.ResourcePods:             resource.MustParse(o.Pods),
		corev1.ResourceEphemeralStorage: resource.MustParse(o.EphemeralStorage),
	}
	id := fakeID(name)
	return corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity.DeepCopy(),
		Phase:       corev1.NodeRunning,
		Conditions:  nodestatus.Conditions(now, prev, nodestatus.Health{}),
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: nodeInternalIP(index).String()},
			{Type: corev1.NodeHostName, Address: name},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: kubeletPort}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:               id,
			SystemUUID:              id,
			BootID:                  id,
			KernelVersion:           "hollow",
			OSImage:                 osImage,
			ContainerRuntimeVersion: runtimeString,
			KubeletVersion:          version.KubernetesVersion,
			OperatingSystem:         "linux",
			Architecture:            runtime.GOARCH,
		},
	}
}

// fakeID is a stable 32-hex-digit machine ID derived from the node name.
func fakeID(name string) string {
	sum := sha256.Sum256([]byte("hollow/" + name))
	return hex.EncodeToString(sum[:16])
}
