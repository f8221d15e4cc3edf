package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestServiceCreate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *corev1.Service)
		want   []string
	}{
		{"docs example is valid", func(s *corev1.Service) {}, nil},
		{"name must start with a letter", func(s *corev1.Service) { s.Name = "1-service" },
			[]string{`metadata.name: Invalid value: "1-service": a DNS-1035 label must consist of`}},
		{"no ports", func(s *corev1.Service) { s.Spec.Ports = nil },
			[]string{"spec.ports: Required value"}},
		{"headless without ports", func(s *corev1.Service) {
			s.Spec.Ports = nil
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "None", []string{"None"}
		}, nil},
		{"port 0", func(s *corev1.Service) { s.Spec.Ports[0].Port = 0 },
			[]string{"spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"}},
		{"two ports need names", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "https", Port: 443, Protocol: "TCP", TargetPort: intstr.FromInt32(443)})
		}, []string{"spec.ports[0].name: Required value"}},
		{"duplicate port names", func(s *corev1.Service) {
			s.Spec.Ports[0].Name = "web"
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "web", Port: 443, Protocol: "TCP", TargetPort: intstr.FromInt32(443)})
		}, []string{`spec.ports[1].name: Duplicate value: "web"`}},
		{"same port twice", func(s *corev1.Service) {
			s.Spec.Ports[0].Name = "a"
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "b", Port: 80, Protocol: "TCP", TargetPort: intstr.FromInt32(80)})
		}, []string{"spec.ports[1]: Duplicate value: "}},
		{"unknown protocol", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "ICMP" },
			[]string{`spec.ports[0].protocol: Unsupported value: "ICMP"`}},
		{"bad targetPort name", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("Web_Port") },
			[]string{`spec.ports[0].targetPort: Invalid value: "Web_Port"`}},
		{"unknown type", func(s *corev1.Service) { s.Spec.Type = "Ingress" },
			[]string{`spec.type: Unsupported value: "Ingress": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`}},
		{"nodePort on ClusterIP", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 },
			[]string{"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"}},
		{"bad selector", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "not valid!"} },
			[]string{`spec.selector: Invalid value: "not valid!"`}},
		{"externalTrafficPolicy on ClusterIP", func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal },
			[]string{`spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services`}},
		{"bad clusterIP", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.0.0.300", []string{"10.0.0.300"} },
			[]string{`spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := myService()
			tt.mutate(s)
			check(t, Create(s), tt.want...)
		})
	}
}

func TestServiceTypes(t *testing.T) {
	t.Run("NodePort is valid", func(t *testing.T) {
		s := myService()
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.InternalTrafficPolicy, s.Spec.ExternalTrafficPolicy = nil, ""
		s = defaulted(s)
		s.Spec.Ports[0].NodePort = 30007
		check(t, Create(s))
	})
	t.Run("ExternalName needs a name", func(t *testing.T) {
		s := defaulted(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "my.database.example.com"}})
		check(t, Create(s))
		s.Spec.ExternalName = ""
		check(t, Create(s), "spec.externalName: Required value")
		s.Spec.ExternalName = "Not_A_Host"
		check(t, Create(s), `spec.externalName: Invalid value: "Not_A_Host"`)
	})
}

func TestServiceUpdate(t *testing.T) {
	allocated := func() *corev1.Service {
		s := myService()
		s.ResourceVersion = "4"
		s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.32.0.17", []string{"10.32.0.17"}
		return s
	}
	tests := []struct {
		name   string
		mutate func(s *corev1.Service)
		want   []string
	}{
		{"ports may change", func(s *corev1.Service) { s.Spec.Ports[0].Port = 8080 }, nil},
		{"clusterIP left out is carried over later", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "", nil }, nil},
		{"clusterIP changed", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.32.0.99", []string{"10.32.0.99"} },
			[]string{`spec.clusterIPs[0]: Invalid value: ["10.32.0.99"]: may not change once set`}},
		{"to ExternalName drops the IP it kept (kubectl apply)", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
		}, nil},
		{"to ExternalName with a new IP", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.32.0.99", []string{"10.32.0.99"}
		}, []string{"spec.clusterIPs: Forbidden: may not be set for ExternalName services"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := allocated()
			s := old.DeepCopy()
			tt.mutate(s)
			check(t, Update(s, old), tt.want...)
		})
	}
}

// TestServiceTypeChange: `kubectl apply` patches the live object, so a
// manifest that turns a NodePort Service into a ClusterIP one still carries
// the old nodePort and externalTrafficPolicy; a real cluster drops them.
func TestServiceTypeChange(t *testing.T) {
	old := myService()
	old.ResourceVersion = "4"
	old.Spec.Type = corev1.ServiceTypeNodePort
	old.Spec.ExternalTrafficPolicy = ""
	old = defaulted(old)
	old.Spec.ClusterIP, old.Spec.ClusterIPs = "10.32.0.17", []string{"10.32.0.17"}
	old.Spec.Ports[0].NodePort = 30080
	check(t, Create(old))

	s := old.DeepCopy()
	s.Spec.Type = corev1.ServiceTypeClusterIP
	check(t, Update(s, old))

	s.Spec.Ports[0].NodePort = 30081 // asked for a new one: not dropped
	check(t, Update(s, old), "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'")
}

func TestEndpoints(t *testing.T) {
	e := defaulted(&corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "my-service", Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.200.1.5"}}, Ports: []corev1.EndpointPort{{Port: 9376}}}}})
	check(t, Create(e))
	e.Subsets[0].Addresses[0].IP = "pod-a"
	check(t, Create(e), `subsets[0].addresses[0].ip: Invalid value: "pod-a": must be a valid IP address`)
}

func TestEndpointSlice(t *testing.T) {
	valid := func() *discoveryv1.EndpointSlice {
		return defaulted(&discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "example-abc", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "example"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](80)}},
			Endpoints: []discoveryv1.Endpoint{{
				Addresses:  []string{"10.1.2.3"},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
				NodeName:   ptr.To("node-1"),
			}},
		})
	}
	tests := []struct {
		name   string
		mutate func(s *discoveryv1.EndpointSlice)
		want   []string
	}{
		{"docs example is valid", func(s *discoveryv1.EndpointSlice) {}, nil},
		{"unknown address type", func(s *discoveryv1.EndpointSlice) { s.AddressType = "IPv5" },
			[]string{`addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"`}},
		{"endpoint without address", func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = nil },
			[]string{"endpoints[0].addresses: Required value: must contain at least 1 address"}},
		{"IPv6 address in an IPv4 slice", func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = []string{"fd00::1"} },
			[]string{`endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address`}},
		{"undefaulted protocol", func(s *discoveryv1.EndpointSlice) { s.Ports[0].Protocol = nil },
			[]string{"ports[0].protocol: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			tt.mutate(s)
			check(t, Create(s), tt.want...)
		})
	}
	t.Run("addressType is immutable", func(t *testing.T) {
		old := valid()
		old.ResourceVersion = "2"
		s := old.DeepCopy()
		s.AddressType = discoveryv1.AddressTypeFQDN
		s.Endpoints[0].Addresses = []string{"example.com"}
		check(t, Update(s, old), `addressType: Invalid value: "FQDN": field is immutable`)
	})
}
