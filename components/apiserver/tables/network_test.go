package tables

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestService(t *testing.T) {
	p := For(corev1.SchemeGroupVersion.WithKind("Service"))
	assertColumns(t, p, "Name:string", "Type:string", "Cluster-IP:string", "External-IP:string", "Port(s):string", "Age:string", "Selector:string:wide")

	svc := func(typ corev1.ServiceType, mutate func(*corev1.Service)) *corev1.Service {
		s := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: ago(90 * time.Second)},
			Spec: corev1.ServiceSpec{
				Type: typ, ClusterIP: "10.32.0.57", ClusterIPs: []string{"10.32.0.57"},
				Selector: map[string]string{"app": "web"},
				Ports:    []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}},
			},
		}
		mutate(s)
		return s
	}
	tests := []struct {
		name string
		svc  *corev1.Service
		want []interface{}
	}{
		{"cluster ip", svc(corev1.ServiceTypeClusterIP, func(*corev1.Service) {}),
			[]interface{}{"web", "ClusterIP", "10.32.0.57", "<none>", "80/TCP", "90s", "app=web"}},
		{"node port, two ports", svc(corev1.ServiceTypeNodePort, func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP}, {Port: 53, NodePort: 30053, Protocol: corev1.ProtocolUDP}}
		}), []interface{}{"web", "NodePort", "10.32.0.57", "<none>", "80:30080/TCP,53:30053/UDP", "90s", "app=web"}},
		{"load balancer pending", svc(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 31000 }),
			[]interface{}{"web", "LoadBalancer", "10.32.0.57", "<pending>", "80:31000/TCP", "90s", "app=web"}},
		{"load balancer with ingress and external IP", svc(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
			s.Spec.ExternalIPs = []string{"192.0.2.10"}
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{Hostname: "lb.example.com"}, {IP: "198.51.100.7"}}
		}), []interface{}{"web", "LoadBalancer", "10.32.0.57", "198.51.100.7,lb.example.com,192.0.2.10", "80/TCP", "90s", "app=web"}},
		{"headless without selector", svc(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.Selector, s.Spec.Ports = "None", []string{"None"}, nil, nil
		}), []interface{}{"web", "ClusterIP", "None", "<none>", "<none>", "90s", "<none>"}},
		{"external name", svc(corev1.ServiceTypeExternalName, func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.ExternalName, s.Spec.Ports = "", nil, "db.example.com", nil
		}), []interface{}{"web", "ExternalName", "<none>", "db.example.com", "<none>", "90s", "app=web"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assertCells(t, p, tt.svc, tt.want...) })
	}
}

func TestEndpoints(t *testing.T) {
	p := For(corev1.SchemeGroupVersion.WithKind("Endpoints"))
	assertColumns(t, p, "Name:string", "Endpoints:string", "Age:string")

	addrs := func(ips ...string) []corev1.EndpointAddress {
		out := make([]corev1.EndpointAddress, len(ips))
		for i, ip := range ips {
			out[i].IP = ip
		}
		return out
	}
	tests := []struct {
		name    string
		subsets []corev1.EndpointSubset
		want    string
	}{
		{"none", nil, "<none>"},
		{"two", []corev1.EndpointSubset{{Addresses: addrs("10.200.1.7", "10.200.2.4"), Ports: []corev1.EndpointPort{{Port: 8080}}}}, "10.200.1.7:8080,10.200.2.4:8080"},
		{"headless without ports", []corev1.EndpointSubset{{Addresses: addrs("10.200.1.7")}}, "10.200.1.7"},
		{"ipv6", []corev1.EndpointSubset{{Addresses: addrs("fd00:10:200::7"), Ports: []corev1.EndpointPort{{Port: 80}}}}, "[fd00:10:200::7]:80"},
		{"more than three", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"), Ports: []corev1.EndpointPort{{Port: 80}}}},
			"10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(time.Minute)}, Subsets: tt.subsets}
			assertCells(t, p, ep, "web", tt.want, "60s")
		})
	}
}

func TestEndpointSlice(t *testing.T) {
	p := For(discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"))
	assertColumns(t, p, "Name:string", "AddressType:string", "Ports:string", "Endpoints:string", "Age:string")

	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abc12", CreationTimestamp: ago(time.Minute)},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Port: ptr(int32(8080))}, {Name: ptr("metrics")}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.200.1.7"}}, {Addresses: []string{"10.200.2.4"}},
			{Addresses: []string{"10.200.3.9"}}, {Addresses: []string{"10.200.4.2"}},
		},
	}
	assertCells(t, p, slice, "web-abc12", "IPv4", "8080,metrics", "10.200.1.7,10.200.2.4,10.200.3.9 + 1 more...", "60s")

	empty := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "e", CreationTimestamp: ago(time.Minute)}, AddressType: discoveryv1.AddressTypeIPv4}
	assertCells(t, p, empty, "e", "IPv4", "<unset>", "<unset>", "60s")
}
