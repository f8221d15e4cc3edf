package hollownode

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"runtime"
	"strconv"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

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
		Conditions:  nodeConditions(now, prev),
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

// nodeConditions are the kubelet's four conditions on a healthy node, with
// the kubelet's reasons and messages, heartbeat now.
func nodeConditions(now metav1.Time, prev []corev1.NodeCondition) []corev1.NodeCondition {
	conds := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	for i := range conds {
		conds[i].LastHeartbeatTime = now
		conds[i].LastTransitionTime = now
		for _, p := range prev {
			if p.Type == conds[i].Type && p.Status == conds[i].Status && !p.LastTransitionTime.IsZero() {
				conds[i].LastTransitionTime = p.LastTransitionTime
			}
		}
	}
	return conds
}

// statusPatch is the strategic merge patch of a heartbeat: conditions are
// merged by type, so conditions other components own (NetworkUnavailable)
// stay as they are.
func statusPatch(conds []corev1.NodeCondition) ([]byte, error) {
	patch := map[string]any{"status": map[string]any{"conditions": conds}}
	data, err := json.Marshal(patch)
	if err != nil {
		return nil, fmt.Errorf("encode node status patch: %w", err)
	}
	return data, nil
}

// adopt turns an existing Node of the same name into ours, as a kubelet
// restarting on a known machine does: our labels and taints are added (theirs
// kept), and the status is replaced by ours.
func adopt(existing, want *corev1.Node) *corev1.Node {
	n := existing.DeepCopy()
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	maps.Copy(n.Labels, want.Labels)
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	maps.Copy(n.Annotations, want.Annotations)
	for _, t := range want.Spec.Taints {
		present := false
		for _, have := range n.Spec.Taints {
			present = present || (have.Key == t.Key && have.Effect == t.Effect)
		}
		if !present {
			n.Spec.Taints = append(n.Spec.Taints, t)
		}
	}
	return n
}

// buildLease is a node's heartbeat Lease in kube-node-lease, owned by the
// Node so that deleting the node deletes its lease (as the kubelet sets it).
func buildLease(name string, nodeUID string, duration int32, now metav1.MicroTime) *coordinationv1.Lease {
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(name),
			LeaseDurationSeconds: ptr.To(duration),
			RenewTime:            &now,
		},
	}
	setLeaseOwner(l, name, nodeUID)
	return l
}

// setLeaseOwner points the lease at the current Node object (a re-registered
// node has a new UID).
func setLeaseOwner(l *coordinationv1.Lease, name, nodeUID string) {
	if nodeUID == "" {
		return
	}
	l.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Node", Name: name, UID: types.UID(nodeUID),
	}}
}
