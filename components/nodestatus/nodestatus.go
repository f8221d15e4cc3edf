// Package nodestatus holds the shapes a kubelet writes about its node: the
// four node conditions with the kubelet's reasons and messages, the
// heartbeat Lease in kube-node-lease, and how a restarting kubelet adopts a
// Node object that already exists.
//
// Two node agents share it: the real kubelet (components/kubelet) and the
// hollow nodes (components/hollownode), which must look exactly like a
// kubelet to the node lifecycle controller and the scheduler. Everything
// here is pure: building objects and patches, no API calls.
package nodestatus

import (
	"encoding/json"
	"fmt"
	"maps"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// Health is what the kubelet knows about its node when it posts status.
type Health struct {
	// NotReady, when set, is why the node is not ready (the Ready
	// condition's message, e.g. "container runtime network not ready:
	// no pod CIDR assigned yet"). Empty means ready.
	NotReady string
	// MemoryPressure, DiskPressure and PIDPressure are true under pressure.
	MemoryPressure, DiskPressure, PIDPressure bool
}

// Conditions are the kubelet's four conditions, with the kubelet's reasons
// and messages and heartbeat now. prev are the conditions already stored: a
// condition keeps its lastTransitionTime while its status does not change.
func Conditions(now metav1.Time, prev []corev1.NodeCondition, h Health) []corev1.NodeCondition {
	conds := []corev1.NodeCondition{
		pressure(corev1.NodeMemoryPressure, h.MemoryPressure,
			"KubeletHasSufficientMemory", "kubelet has sufficient memory available",
			"KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
		pressure(corev1.NodeDiskPressure, h.DiskPressure,
			"KubeletHasNoDiskPressure", "kubelet has no disk pressure",
			"KubeletHasDiskPressure", "kubelet has disk pressure"),
		pressure(corev1.NodePIDPressure, h.PIDPressure,
			"KubeletHasSufficientPID", "kubelet has sufficient PID available",
			"KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	if h.NotReady != "" {
		conds[3].Status, conds[3].Reason, conds[3].Message = corev1.ConditionFalse, "KubeletNotReady", h.NotReady
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

func pressure(t corev1.NodeConditionType, on bool, okReason, okMsg, badReason, badMsg string) corev1.NodeCondition {
	if on {
		return corev1.NodeCondition{Type: t, Status: corev1.ConditionTrue, Reason: badReason, Message: badMsg}
	}
	return corev1.NodeCondition{Type: t, Status: corev1.ConditionFalse, Reason: okReason, Message: okMsg}
}

// Patch is the strategic merge patch of a heartbeat: conditions are merged
// by type, so conditions other components own (NetworkUnavailable) stay as
// they are. extra, if not nil, is merged into "status" too (capacity,
// images, addresses).
func Patch(conds []corev1.NodeCondition, extra map[string]any) ([]byte, error) {
	status := map[string]any{"conditions": conds}
	maps.Copy(status, extra)
	data, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return nil, fmt.Errorf("encode node status patch: %w", err)
	}
	return data, nil
}

// Adopt turns an existing Node of the same name into ours, as a kubelet
// restarting on a known machine does: our labels, annotations and taints are
// added (theirs kept).
func Adopt(existing, want *corev1.Node) *corev1.Node {
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

// Lease is a node's heartbeat Lease in kube-node-lease, owned by the Node so
// that deleting the node deletes its lease (as the kubelet sets it).
func Lease(name string, nodeUID string, duration int32, now metav1.MicroTime) *coordinationv1.Lease {
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(name),
			LeaseDurationSeconds: ptr.To(duration),
			RenewTime:            &now,
		},
	}
	SetLeaseOwner(l, name, nodeUID)
	return l
}

// SetLeaseOwner points the lease at the current Node object (a re-registered
// node has a new UID).
func SetLeaseOwner(l *coordinationv1.Lease, name, nodeUID string) {
	if nodeUID == "" {
		return
	}
	l.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Node", Name: name, UID: types.UID(nodeUID),
	}}
}
