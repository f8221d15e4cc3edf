package daemonset

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// Upstream's well-known taint keys (k8s.io/api/core/v1 has most as
// constants; the pressure ones are spelled out for clarity).
const (
	taintDiskPressure       = "node.kubernetes.io/disk-pressure"
	taintMemoryPressure     = "node.kubernetes.io/memory-pressure"
	taintPIDPressure        = "node.kubernetes.io/pid-pressure"
	taintUnschedulable      = "node.kubernetes.io/unschedulable"
	taintNetworkUnavailable = "node.kubernetes.io/network-unavailable"
)

// addDaemonTolerations adds upstream's automatic tolerations
// (AddOrUpdateDaemonPodTolerations): a daemon pod is node infrastructure
// (log shipper, network plugin, …), so it must stay on a node that goes
// not-ready or unreachable, and be placed on nodes under resource pressure
// or cordoned ones. hostNetwork pods also tolerate a node whose network is
// not yet configured: they are often the pods that configure it.
func addDaemonTolerations(spec *corev1.PodSpec) {
	add := func(key string, effect corev1.TaintEffect) {
		t := corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect}
		for i := range spec.Tolerations {
			if spec.Tolerations[i].MatchToleration(&t) {
				return
			}
		}
		spec.Tolerations = append(spec.Tolerations, t)
	}
	add(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)
	add(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)
	add(taintDiskPressure, corev1.TaintEffectNoSchedule)
	add(taintMemoryPressure, corev1.TaintEffectNoSchedule)
	add(taintPIDPressure, corev1.TaintEffectNoSchedule)
	add(taintUnschedulable, corev1.TaintEffectNoSchedule)
	if spec.HostNetwork {
		add(taintNetworkUnavailable, corev1.TaintEffectNoSchedule)
	}
}

// pinToNode sets the required node affinity that makes the scheduler place
// the pod on exactly this node (upstream's
// ReplaceDaemonSetPodNodeNameNodeAffinity). Since Kubernetes 1.12 the
// controller no longer sets spec.nodeName itself: going through the
// scheduler gives daemon pods preemption, resource accounting and the
// scheduler's view of the node. The controller has already checked the
// template's own node affinity, so the required terms are replaced, not
// merged; preferred terms are kept.
func pinToNode(spec *corev1.PodSpec, node string) {
	sel := &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchFields: []corev1.NodeSelectorRequirement{{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
	}}}
	if spec.Affinity == nil {
		spec.Affinity = &corev1.Affinity{}
	}
	if spec.Affinity.NodeAffinity == nil {
		spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = sel
}

// targetNode is the node a daemon pod belongs to: spec.nodeName once bound,
// before that the node its metadata.name affinity pins it to.
func targetNode(pod *corev1.Pod) (string, error) {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName, nil
	}
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for _, f := range term.MatchFields {
				if f.Key == metav1.ObjectNameField && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
					return f.Values[0], nil
				}
			}
		}
	}
	return "", fmt.Errorf("no node name found for pod %s/%s", pod.Namespace, pod.Name)
}

// shouldRun is upstream's NodeShouldRunDaemonPod. run: a daemon pod should
// be placed on the node. keep: a pod already there may stay (a new
// NoSchedule taint does not evict; only an untolerated NoExecute one does).
func shouldRun(node *corev1.Node, ds *appsv1.DaemonSet) (run, keep bool) {
	spec := ds.Spec.Template.Spec.DeepCopy()
	if spec.NodeName != "" && spec.NodeName != node.Name {
		return false, false
	}
	addDaemonTolerations(spec)
	if len(spec.NodeSelector) > 0 && !labels.SelectorFromSet(spec.NodeSelector).Matches(labels.Set(node.Labels)) {
		return false, false
	}
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		// The same matcher upstream's scheduler and kubelet use.
		sel := nodeaffinity.NewLazyErrorNodeSelector(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
		if ok, err := sel.Match(node); err != nil || !ok {
			return false, false
		}
	}
	if untolerated(node.Spec.Taints, spec.Tolerations, corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute) {
		return false, !untolerated(node.Spec.Taints, spec.Tolerations, corev1.TaintEffectNoExecute)
	}
	return true, true
}

// untolerated reports whether a taint with one of effects is not tolerated.
func untolerated(taints []corev1.Taint, tols []corev1.Toleration, effects ...corev1.TaintEffect) bool {
	for i := range taints {
		taint := &taints[i]
		relevant := false
		for _, e := range effects {
			relevant = relevant || taint.Effect == e
		}
		if !relevant {
			continue
		}
		tolerated := false
		for j := range tols {
			if tols[j].ToleratesTaint(klog.Background(), taint, true) {
				tolerated = true
				break
			}
		}
		if !tolerated {
			return true
		}
	}
	return false
}
