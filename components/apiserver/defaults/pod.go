package defaults

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// Priorities of the two built-in PriorityClasses (upstream's
// scheduling.SystemCriticalPriority + 1000 and + 0). kubelab has no
// PriorityClass objects to look up, so these two are known by name and every
// other pod gets priority 0, as on a cluster without a global default class.
var builtinPriorities = map[string]int32{
	"system-node-critical":    2000001000,
	"system-cluster-critical": 2000000000,
}

// defaultTolerationSeconds is how long a pod stays bound to a node that
// became not-ready or unreachable before it is evicted (the
// --default-not-ready-toleration-seconds flag of upstream's apiserver).
const defaultTolerationSeconds int64 = 300

// pod defaults a Pod object: everything a template gets, plus what upstream
// applies only to real pods.
func pod(p *corev1.Pod) {
	podSpec(&p.Spec)
	podOnly(p)
	serviceAccountAdmission(p)
	tolerationAdmission(&p.Spec)
	priorityAdmission(&p.Spec)
	podStatusIPs(&p.Status)
}

// podOnly mirrors SetDefaults_Pod (pkg/apis/core/v1/defaults.go).
func podOnly(p *corev1.Pod) {
	// Requests default to limits: a container that says "at most 1 CPU" is
	// scheduled as if it asked for 1 CPU, which is what makes a pod with only
	// limits "Guaranteed".
	for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range list {
			requestsFromLimits(&list[i].Resources)
		}
	}
	if p.Spec.EnableServiceLinks == nil {
		p.Spec.EnableServiceLinks = ptr.To(corev1.DefaultEnableServiceLinks)
	}
	// With hostNetwork the container port *is* a host port.
	if p.Spec.HostNetwork {
		for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
			for i := range list {
				for j := range list[i].Ports {
					if list[i].Ports[j].HostPort == 0 {
						list[i].Ports[j].HostPort = list[i].Ports[j].ContainerPort
					}
				}
			}
		}
	}
}

func requestsFromLimits(r *corev1.ResourceRequirements) {
	if r.Limits == nil {
		return
	}
	if r.Requests == nil {
		r.Requests = corev1.ResourceList{}
	}
	for name, q := range r.Limits {
		if _, ok := r.Requests[name]; !ok {
			r.Requests[name] = q.DeepCopy()
		}
	}
}

// serviceAccountAdmission is the part of upstream's ServiceAccount admission
// plugin users see in `kubectl get pod -o yaml`: every pod runs as a service
// account, "default" unless it names one. Static (mirror) pods are created by
// kubelets and keep no service account, as upstream.
//
// Not done here: mounting the kube-api-access-* projected token volume,
// which needs the ServiceAccount object and belongs to admission.
func serviceAccountAdmission(p *corev1.Pod) {
	if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return
	}
	if p.Spec.ServiceAccountName == "" {
		p.Spec.ServiceAccountName = "default"
	}
	p.Spec.DeprecatedServiceAccount = p.Spec.ServiceAccountName
}

// tolerationAdmission is upstream's DefaultTolerationSeconds admission
// plugin: unless the pod already tolerates them, add 300s tolerations for the
// taints the node lifecycle controller puts on a not-ready or unreachable
// node. That is why a pod is evicted five minutes after its node dies.
func tolerationAdmission(spec *corev1.PodSpec) {
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		if toleratesNoExecute(spec.Tolerations, key) {
			continue
		}
		spec.Tolerations = append(spec.Tolerations, corev1.Toleration{
			Key:               key,
			Operator:          corev1.TolerationOpExists,
			Effect:            corev1.TaintEffectNoExecute,
			TolerationSeconds: ptr.To(defaultTolerationSeconds),
		})
	}
}

// toleratesNoExecute: a toleration with an empty key matches every key, an
// empty effect every effect.
func toleratesNoExecute(tolerations []corev1.Toleration, key string) bool {
	for _, t := range tolerations {
		if (t.Key == key || t.Key == "") && (t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
			return true
		}
	}
	return false
}

// priorityAdmission is upstream's Priority admission plugin, reduced to the
// built-in classes.
func priorityAdmission(spec *corev1.PodSpec) {
	if spec.Priority == nil {
		spec.Priority = ptr.To(builtinPriorities[spec.PriorityClassName])
	}
	if spec.PreemptionPolicy == nil {
		spec.PreemptionPolicy = ptr.To(corev1.PreemptLowerPriority)
	}
}

// podStatusIPs keeps the singular and plural IP fields in step, as the
// v1<->internal conversion does: a kubelet that only sets podIP still gets
// podIPs, and podIP wins when both are set and disagree.
func podStatusIPs(s *corev1.PodStatus) {
	if s.PodIP != "" && (len(s.PodIPs) == 0 || s.PodIPs[0].IP != s.PodIP) {
		s.PodIPs = []corev1.PodIP{{IP: s.PodIP}}
	}
	if s.PodIP == "" && len(s.PodIPs) > 0 {
		s.PodIP = s.PodIPs[0].IP
	}
	if s.HostIP != "" && (len(s.HostIPs) == 0 || s.HostIPs[0].IP != s.HostIP) {
		s.HostIPs = []corev1.HostIP{{IP: s.HostIP}}
	}
	if s.HostIP == "" && len(s.HostIPs) > 0 {
		s.HostIP = s.HostIPs[0].IP
	}
}
