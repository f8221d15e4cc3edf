package containerenv

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ServiceEnv returns the Docker-links-style variables for services, as the
// upstream kubelet (pkg/kubelet/envvars) builds them:
//
//	FOO_SERVICE_HOST=10.32.0.7   FOO_SERVICE_PORT=80   FOO_SERVICE_PORT_HTTP=80
//	FOO_PORT=tcp://10.32.0.7:80  FOO_PORT_80_TCP=tcp://10.32.0.7:80
//	FOO_PORT_80_TCP_PROTO=tcp    FOO_PORT_80_TCP_PORT=80   FOO_PORT_80_TCP_ADDR=10.32.0.7
//
// Which services: those of the pod's namespace when enableServiceLinks is
// not false, and always the `kubernetes` service of the default namespace
// (so KUBERNETES_SERVICE_HOST/PORT reach every pod) unless the pod's own
// namespace has a service of that name. Headless services are skipped.
// The result is sorted by service name for a stable order.
func ServiceEnv(pod *corev1.Pod, services []*corev1.Service) []corev1.EnvVar {
	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	chosen := map[string]*corev1.Service{}
	for _, s := range services {
		if !hasClusterIP(s) {
			continue
		}
		switch {
		case s.Namespace == pod.Namespace && links:
			chosen[s.Name] = s
		case s.Namespace == "default" && s.Name == "kubernetes":
			if _, taken := chosen[s.Name]; !taken {
				chosen[s.Name] = s
			}
		}
	}
	names := make([]string, 0, len(chosen))
	for n := range chosen {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []corev1.EnvVar
	for _, n := range names {
		out = append(out, serviceVars(chosen[n])...)
	}
	return out
}

func hasClusterIP(s *corev1.Service) bool {
	return s.Spec.ClusterIP != "" && s.Spec.ClusterIP != corev1.ClusterIPNone && len(s.Spec.Ports) > 0
}

func envName(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }

func serviceVars(s *corev1.Service) []corev1.EnvVar {
	prefix := envName(s.Name)
	ip := s.Spec.ClusterIP
	out := []corev1.EnvVar{
		{Name: prefix + "_SERVICE_HOST", Value: ip},
		{Name: prefix + "_SERVICE_PORT", Value: strconv.Itoa(int(s.Spec.Ports[0].Port))},
	}
	for _, p := range s.Spec.Ports {
		if p.Name != "" {
			out = append(out, corev1.EnvVar{Name: prefix + "_SERVICE_PORT_" + envName(p.Name), Value: strconv.Itoa(int(p.Port))})
		}
	}
	for i, p := range s.Spec.Ports {
		proto := string(p.Protocol)
		if proto == "" {
			proto = string(corev1.ProtocolTCP)
		}
		lower := strings.ToLower(proto)
		url := fmt.Sprintf("%s://%s", lower, net.JoinHostPort(ip, strconv.Itoa(int(p.Port))))
		if i == 0 {
			out = append(out, corev1.EnvVar{Name: prefix + "_PORT", Value: url})
		}
		pp := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(proto))
		out = append(out,
			corev1.EnvVar{Name: pp, Value: url},
			corev1.EnvVar{Name: pp + "_PROTO", Value: lower},
			corev1.EnvVar{Name: pp + "_PORT", Value: strconv.Itoa(int(p.Port))},
			corev1.EnvVar{Name: pp + "_ADDR", Value: ip},
		)
	}
	return out
}
