package kubelet

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/kubelab/kubelab/components/kubelet/podstatus"
)

// writeStatus computes the pod's status from what the runtime, the prober
// and the sync know, and writes it through pods/status when it changed. Like
// the kubelet's status manager it sends a strategic merge patch against the
// status it saw, carrying the pod's UID so a patch never lands on a new pod
// that reuses the name.
func (k *Kubelet) writeStatus(ctx context.Context, st *podState, pod *corev1.Pod, terminal bool) {
	containers, err := k.rt.ListContainers(string(pod.UID))
	if err != nil {
		slog.Warn("reading container statuses failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		return
	}
	// The status to compare with and patch against is the API server's
	// copy (so a status someone else changed, say the node lifecycle
	// controller marking pods not ready, is put right), unless our cache
	// has not seen our own last write yet.
	old := &pod.Status
	if st.status != nil && rvOlder(pod.ResourceVersion, st.statusRV) {
		old = st.status
	}
	in := podstatus.Input{
		Pod:          pod,
		Containers:   containers,
		Waiting:      st.waiting,
		Probes:       k.probes.results(pod, containers),
		Old:          old,
		SandboxReady: st.sandbox != nil && !st.tornDown,
		Terminal:     terminal,
		HostIPs:      []string{k.nodeIP.String()},
		Now:          time.Now(),
	}
	for _, ip := range st.ips {
		in.PodIPs = append(in.PodIPs, ip.String())
	}
	status := podstatus.Compute(in)
	if equality.Semantic.DeepEqual(*old, status) {
		return
	}
	patch, err := statusPatch(pod.UID, *old, status)
	if err != nil {
		slog.Warn("building pod status patch failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		return
	}
	updated, err := k.kube.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		if !apierrors.IsNotFound(err) && ctx.Err() == nil {
			slog.Warn("writing pod status failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		}
		return
	}
	st.status, st.statusRV = &status, updated.ResourceVersion
	if isTerminal(status.Phase) && !isTerminal(pod.Status.Phase) {
		k.event(pod, corev1.EventTypeNormal, "Completed", "Pod %s", status.Phase)
	}
}

// statusPatch is the two-way strategic merge patch from old to new status,
// with metadata.uid as a precondition.
func statusPatch(uid types.UID, old, new corev1.PodStatus) ([]byte, error) {
	oldJSON, err := json.Marshal(corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: uid}, Status: old})
	if err != nil {
		return nil, fmt.Errorf("encode old status: %w", err)
	}
	newJSON, err := json.Marshal(corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: uid}, Status: new})
	if err != nil {
		return nil, fmt.Errorf("encode new status: %w", err)
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldJSON, newJSON, corev1.Pod{})
	if err != nil {
		return nil, fmt.Errorf("diff pod status: %w", err)
	}
	// Add the UID precondition: {"metadata":{"uid":...}} is kept by the
	// server only if it matches.
	var m map[string]any
	if err := json.Unmarshal(patch, &m); err != nil {
		return nil, err
	}
	m["metadata"] = map[string]any{"uid": uid}
	return json.Marshal(m)
}

// rvOlder reports whether resourceVersion a is older than b. kubelab's
// resourceVersions are etcd revisions (numbers); anything else compares as
// not older, which only costs a redundant patch.
func rvOlder(a, b string) bool {
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && err2 == nil && x < y
}
