package allocator

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestCreateNodePorts(t *testing.T) {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	runCreateCases(t, []createCase{
		{
			name: "NodePort with random ports",
			svc: service("web", ofType(corev1.ServiceTypeNodePort),
				withPorts(port("http", 80, tcp, 0), port("https", 443, tcp, 0))),
			check: func(t *testing.T, svc *corev1.Service, held map[string]string) {
				a, b := svc.Spec.Ports[0].NodePort, svc.Spec.Ports[1].NodePort
				if a < 30000 || a > 32767 || b < 30000 || b > 32767 || a == b {
					t.Fatalf("nodePorts = %d, %d; want two different ports in 30000-32767", a, b)
				}
				wantHeld(t, held, map[string]string{
					"ip/" + svc.Spec.ClusterIP: "default/web",
					fmt.Sprintf("port/%d", a):  "default/web",
					fmt.Sprintf("port/%d", b):  "default/web",
				})
			},
		},
		{
			name: "NodePort with a requested port",
			svc:  service("web", ofType(corev1.ServiceTypeNodePort), withPorts(port("http", 80, tcp, 30080))),
			check: func(t *testing.T, svc *corev1.Service, held map[string]string) {
				wantHeld(t, held, map[string]string{"ip/" + svc.Spec.ClusterIP: "default/web", "port/30080": "default/web"})
			},
		},
		{
			name: "NodePort out of range releases the clusterIP already reserved",
			svc:  service("web", ofType(corev1.ServiceTypeNodePort), withPorts(port("http", 80, tcp, 40000))),
			err: func(t *testing.T, err error) {
				wantInvalid(t, err, "spec.ports[0].nodePort", "provided port is not in the valid range. The range of valid ports is 30000-32767")
			},
		},
		{
			name: "NodePort taken",
			seed: func(t *testing.T, f *fixture) {
				mustCreate(t, f, service("first", ofType(corev1.ServiceTypeNodePort), withPorts(port("http", 80, tcp, 30080))))
			},
			svc: service("web", ofType(corev1.ServiceTypeNodePort), withPorts(port("a", 81, tcp, 0), port("b", 80, tcp, 30080))),
			err: func(t *testing.T, err error) {
				wantInvalid(t, err, "spec.ports[1].nodePort", "provided port is already allocated")
			},
		},
		{
			name: "same port number over TCP and UDP shares one node port",
			svc:  service("dns", ofType(corev1.ServiceTypeNodePort), withPorts(port("dns", 53, udp, 0), port("dns-tcp", 53, tcp, 0))),
			check: func(t *testing.T, svc *corev1.Service, held map[string]string) {
				if a, b := svc.Spec.Ports[0].NodePort, svc.Spec.Ports[1].NodePort; a == 0 || a != b {
					t.Errorf("nodePorts = %d, %d; want one shared port", a, b)
				}
				if len(held) != 2 {
					t.Errorf("held = %v, want the IP and one port", held)
				}
			},
		},
		{
			name: "one requested node port for two protocols",
			svc:  service("dns", ofType(corev1.ServiceTypeNodePort), withPorts(port("a", 53, udp, 30053), port("b", 5353, tcp, 30053))),
			check: func(t *testing.T, svc *corev1.Service, held map[string]string) {
				wantHeld(t, held, map[string]string{"ip/" + svc.Spec.ClusterIP: "default/dns", "port/30053": "default/dns"})
			},
		},
		{
			name: "one node port twice for the same protocol",
			svc:  service("web", ofType(corev1.ServiceTypeNodePort), withPorts(port("a", 80, tcp, 30080), port("b", 81, tcp, 30080))),
			err: func(t *testing.T, err error) {
				wantInvalid(t, err, "spec.ports[1].nodePort", "Duplicate value")
			},
		},
		{
			name: "nodePort on a ClusterIP service",
			svc:  service("web", withPorts(port("http", 80, tcp, 30080))),
			err: func(t *testing.T, err error) {
				wantInvalid(t, err, "spec.ports[0].nodePort", "may not be used when `type` is 'ClusterIP'")
			},
		},
		{
			name: "LoadBalancer with local traffic gets a health check node port",
			svc:  service("web", ofType(corev1.ServiceTypeLoadBalancer), localTraffic),
			check: func(t *testing.T, svc *corev1.Service, held map[string]string) {
				hc, np := svc.Spec.HealthCheckNodePort, svc.Spec.Ports[0].NodePort
				if hc == 0 || np == 0 || hc == np {
					t.Fatalf("healthCheckNodePort %d, nodePort %d; want two different ports", hc, np)
				}
				if len(held) != 3 {
					t.Errorf("held = %v, want the IP and two ports", held)
				}
			},
		},
		{
			name: "LoadBalancer without node ports",
			svc: service("web", ofType(corev1.ServiceTypeLoadBalancer),
				func(s *corev1.Service) { s.Spec.AllocateLoadBalancerNodePorts = ptr.To(false) }),
			check: func(t *testing.T, svc *corev1.Service, held map[string]string) {
				if svc.Spec.Ports[0].NodePort != 0 || len(held) != 1 {
					t.Errorf("nodePort %d, held %v; want no node port", svc.Spec.Ports[0].NodePort, held)
				}
			},
		},
	})
}
