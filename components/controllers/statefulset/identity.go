package statefulset

import (
	"maps"
	"regexp"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A pod's identity is its name: "<set>-<ordinal>". Everything else (the
// hostname, the claims "<template>-<set>-<ordinal>", the pod-index label)
// follows from it.

var ordinalName = regexp.MustCompile(`^(.*)-([0-9]+)$`)

// parentAndOrdinal splits "web-3" into "web", 3; ordinal -1 if the name has
// no ordinal.
func parentAndOrdinal(pod *corev1.Pod) (string, int) {
	m := ordinalName.FindStringSubmatch(pod.Name)
	if m == nil {
		return "", -1
	}
	i, err := strconv.ParseInt(m[2], 10, 32)
	if err != nil {
		return "", -1
	}
	return m[1], int(i)
}

func ordinalOf(pod *corev1.Pod) int {
	_, o := parentAndOrdinal(pod)
	return o
}

func podName(set *appsv1.StatefulSet, ordinal int) string {
	return set.Name + "-" + strconv.Itoa(ordinal)
}

// isMemberOf: the pod is named like one of the set's.
func isMemberOf(set *appsv1.StatefulSet, pod *corev1.Pod) bool {
	parent, o := parentAndOrdinal(pod)
	return o >= 0 && parent == set.Name
}

func startOrdinal(set *appsv1.StatefulSet) int {
	if set.Spec.Ordinals != nil {
		return int(set.Spec.Ordinals.Start)
	}
	return 0
}

func replicasOf(set *appsv1.StatefulSet) int {
	if set.Spec.Replicas == nil {
		return 1
	}
	return int(*set.Spec.Replicas)
}

// inRange: the ordinal belongs to the set at its current size.
func inRange(set *appsv1.StatefulSet, ordinal int) bool {
	return ordinal >= startOrdinal(set) && ordinal < startOrdinal(set)+replicasOf(set)
}

func claimName(set *appsv1.StatefulSet, template string, ordinal int) string {
	return template + "-" + set.Name + "-" + strconv.Itoa(ordinal)
}

// claimsFor returns the pod's claims, keyed by their template's name (which
// is also the volume's name in the pod). Labels: the template's plus the
// set's selector, so the claims can be found by the selector.
func claimsFor(set *appsv1.StatefulSet, ordinal int) map[string]corev1.PersistentVolumeClaim {
	out := make(map[string]corev1.PersistentVolumeClaim, len(set.Spec.VolumeClaimTemplates))
	for _, t := range set.Spec.VolumeClaimTemplates {
		claim := t.DeepCopy()
		claim.Name = claimName(set, t.Name, ordinal)
		claim.Namespace = set.Namespace
		claim.Labels = maps.Clone(claim.Labels)
		if claim.Labels == nil {
			claim.Labels = map[string]string{}
		}
		if set.Spec.Selector != nil {
			maps.Copy(claim.Labels, set.Spec.Selector.MatchLabels)
		}
		claim.ResourceVersion, claim.UID, claim.OwnerReferences = "", "", nil
		claim.Status = corev1.PersistentVolumeClaimStatus{}
		out[t.Name] = *claim
	}
	return out
}

// newPod builds the pod for ordinal from the set's template, tagged with
// revision.
func newPod(set *appsv1.StatefulSet, ordinal int, revision string) *corev1.Pod {
	t := set.Spec.Template.DeepCopy()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: podName(set, ordinal), Namespace: set.Namespace,
			Labels: maps.Clone(t.Labels), Annotations: t.Annotations, Finalizers: t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, controllerKind)},
		},
		Spec: t.Spec,
	}
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	setIdentityLabels(pod, ordinal)
	pod.Labels[appsv1.StatefulSetRevisionLabel] = revision
	// The pod's DNS name is <hostname>.<subdomain>.<ns>.svc: with a headless
	// Service named spec.serviceName, web-0.nginx.default.svc resolves.
	// Both fields are immutable, so they are set only here.
	pod.Spec.Hostname = pod.Name
	pod.Spec.Subdomain = set.Spec.ServiceName
	// The claims replace any template volume of the same name.
	claims := claimsFor(set, ordinal)
	volumes := make([]corev1.Volume, 0, len(claims)+len(pod.Spec.Volumes))
	for _, t := range set.Spec.VolumeClaimTemplates { // template order, not map order
		volumes = append(volumes, corev1.Volume{Name: t.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claims[t.Name].Name}}})
	}
	for _, v := range pod.Spec.Volumes {
		if _, ok := claims[v.Name]; !ok {
			volumes = append(volumes, v)
		}
	}
	pod.Spec.Volumes = volumes
	return pod
}

func setIdentityLabels(pod *corev1.Pod, ordinal int) {
	pod.Labels[appsv1.StatefulSetPodNameLabel] = pod.Name
	pod.Labels[appsv1.PodIndexLabel] = strconv.Itoa(ordinal)
}

// identityMatches: the pod carries its identity labels (a user may have
// removed them; they are put back).
func identityMatches(set *appsv1.StatefulSet, pod *corev1.Pod) bool {
	o := ordinalOf(pod)
	return isMemberOf(set, pod) && pod.Namespace == set.Namespace &&
		pod.Labels[appsv1.StatefulSetPodNameLabel] == pod.Name &&
		pod.Labels[appsv1.PodIndexLabel] == strconv.Itoa(o)
}

func revisionOf(pod *corev1.Pod) string { return pod.Labels[appsv1.StatefulSetRevisionLabel] }

func isRunningAndReady(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodRunning && conditionTrue(pod, corev1.PodReady)
}

// isRunningAndAvailable: ready for at least minReadySeconds.
func isRunningAndAvailable(pod *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	if !isRunningAndReady(pod) {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return !c.LastTransitionTime.IsZero() &&
				c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).Before(now)
		}
	}
	return false
}

func conditionTrue(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// isCreated: the API server has it (it sets phase Pending on create).
func isCreated(pod *corev1.Pod) bool     { return pod.Status.Phase != "" }
func isTerminating(pod *corev1.Pod) bool { return pod.DeletionTimestamp != nil }
func isHealthy(pod *corev1.Pod) bool     { return isRunningAndReady(pod) && !isTerminating(pod) }
func isFinished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded
}
