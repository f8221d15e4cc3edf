// Package membership answers the questions both endpoint controllers (the
// Endpoints one and the EndpointSlice one) ask about a Service and the pods
// its selector picks:
//
//	pod event ─▶ ServicesFor / ServicesToSync ─▶ which service keys to queue
//	sync      ─▶ Include, Ready, IPs, FindPort, Hostname ─▶ one address per pod
//
// Upstream keeps the same answers in k8s.io/endpointslice/util and
// pkg/api/v1/pod; kube-proxy and cluster DNS rely on both controllers
// agreeing on them.
package membership

import (
	"fmt"
	"net/netip"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Selects reports whether svc's selector picks pod. A Service without a
// selector picks nothing: its endpoints are written by hand.
func Selects(svc *corev1.Service, pod *corev1.Pod) bool {
	if svc.Spec.Selector == nil || svc.Namespace != pod.Namespace {
		return false
	}
	// A selector is a plain map of equalities: checking it against the
	// pod's labels is cheaper than building a labels.Selector, which is why
	// we need no selector cache.
	for k, v := range svc.Spec.Selector {
		if got, ok := pod.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// ServicesFor lists the keys ("namespace/name") of the services whose
// selector picks pod.
func ServicesFor(services corelisters.ServiceLister, pod *corev1.Pod) (sets.Set[string], error) {
	keys := sets.New[string]()
	list, err := services.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list services in %s: %w", pod.Namespace, err)
	}
	for _, svc := range list {
		if Selects(svc, pod) {
			keys.Insert(svc.Namespace + "/" + svc.Name)
		}
	}
	return keys, nil
}

// ServicesToSync is what a pod update means for the services: nothing when
// nothing an endpoint shows changed; the services the pod belongs to when
// its address or readiness changed; and, when its labels changed, the
// services it joined or left as well (all of them if the address changed
// too).
func ServicesToSync(services corelisters.ServiceLister, old, cur *corev1.Pod) (sets.Set[string], error) {
	if old.ResourceVersion == cur.ResourceVersion {
		return nil, nil // a periodic resync, not a change
	}
	podChanged, labelsChanged := changed(old, cur)
	if !podChanged && !labelsChanged {
		return nil, nil
	}
	now, err := ServicesFor(services, cur)
	if err != nil || !labelsChanged {
		return now, err
	}
	before, err := ServicesFor(services, old)
	if err != nil {
		return nil, err
	}
	if podChanged {
		return now.Union(before), nil
	}
	return now.SymmetricDifference(before), nil // only membership changed
}

// changed compares what an endpoint shows of a pod. Name, namespace and UID
// never change, and nodeName is set before the pod gets an IP.
func changed(old, cur *corev1.Pod) (podChanged, labelsChanged bool) {
	labelsChanged = !reflect.DeepEqual(old.Labels, cur.Labels) ||
		old.Spec.Hostname != cur.Spec.Hostname || old.Spec.Subdomain != cur.Spec.Subdomain
	podChanged = (old.DeletionTimestamp == nil) != (cur.DeletionTimestamp == nil) ||
		Ready(old) != Ready(cur) ||
		old.Status.Phase != cur.Status.Phase ||
		!reflect.DeepEqual(IPs(old), IPs(cur))
	return podChanged, labelsChanged
}

// PodFromDelete unwraps the object a delete handler receives: the pod, or
// the tombstone the informer leaves when it missed the delete.
func PodFromDelete(obj interface{}) *corev1.Pod {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, _ := obj.(*corev1.Pod)
	return pod
}

// Include reports whether a pod shows up at all: it must have an IP and not
// have finished (Succeeded or Failed). A terminating pod (deletion
// requested) shows up only when includeTerminating: the Endpoints API has
// no way to say "terminating", EndpointSlices do.
func Include(pod *corev1.Pod, includeTerminating bool) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if len(IPs(pod)) == 0 {
		return false
	}
	return includeTerminating || pod.DeletionTimestamp == nil
}

// Ready reports the pod's Ready condition, the one the kubelet sets from
// readiness probes.
func Ready(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// IPs are the pod's addresses, one per family, primary first.
func IPs(pod *corev1.Pod) []string {
	var ips []string
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	if len(ips) == 0 && pod.Status.PodIP != "" {
		ips = append(ips, pod.Status.PodIP)
	}
	return ips
}

// IPsOfFamily are the pod's addresses of one family.
func IPsOfFamily(pod *corev1.Pod, family corev1.IPFamily) []string {
	var out []string
	for _, ip := range IPs(pod) {
		if FamilyOf(ip) == family {
			out = append(out, ip)
		}
	}
	return out
}

// FamilyOf says whether ip is IPv4 or IPv6 ("" when it is no IP at all).
func FamilyOf(ip string) corev1.IPFamily {
	addr, err := netip.ParseAddr(ip)
	switch {
	case err != nil:
		return ""
	case addr.Is4() || addr.Is4In6():
		return corev1.IPv4Protocol
	default:
		return corev1.IPv6Protocol
	}
}

// Families are the IP families a service's endpoints come in: spec.ipFamilies
// as the API server filled it in, else the family of its cluster IP, else
// IPv4.
func Families(svc *corev1.Service) []corev1.IPFamily {
	if len(svc.Spec.IPFamilies) > 0 {
		return svc.Spec.IPFamilies
	}
	if ip := svc.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		if f := FamilyOf(ip); f != "" {
			return []corev1.IPFamily{f}
		}
	}
	return []corev1.IPFamily{corev1.IPv4Protocol}
}

// Headless reports whether the service has no cluster IP (clusterIP: None):
// clients resolve its pods' addresses through DNS instead.
func Headless(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone
}

// FindPort resolves a service port's targetPort for one pod: a number is
// used as is; a name is looked up among the pod's container ports (and its
// sidecars') with the same protocol, so pods of different versions may
// serve "http" on different numbers.
func FindPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, error) {
	tp := sp.TargetPort
	if tp.Type == intstr.Int {
		if tp.IntVal == 0 {
			return sp.Port, nil // not defaulted: targetPort defaults to port
		}
		return tp.IntVal, nil
	}
	proto := sp.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	containers := pod.Spec.Containers
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			containers = append(containers[:len(containers):len(containers)], c)
		}
	}
	for _, c := range containers {
		for _, p := range c.Ports {
			pp := p.Protocol
			if pp == "" {
				pp = corev1.ProtocolTCP
			}
			if p.Name == tp.StrVal && pp == proto {
				return p.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("pod %s/%s has no %s port named %q", pod.Namespace, pod.Name, proto, tp.StrVal)
}

// Hostname is the DNS name a pod asked for (spec.hostname) when its
// spec.subdomain names this service: it then resolves as
// <hostname>.<service>.<namespace>.svc. Empty otherwise.
func Hostname(pod *corev1.Pod, svc *corev1.Service) string {
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace {
		return pod.Spec.Hostname
	}
	return ""
}
