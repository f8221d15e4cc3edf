package allocator

import (
	"context"
	"errors"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// fixture is one cluster's allocators under their own key root, so table
// cases can share one etcd and still see only their own keys.
type fixture struct {
	c    *clientv3.Client
	root string
	s    *Services
}

// newFixture configures the given service CIDRs (the first is the default
// family) and node ports 30000-32767.
func newFixture(t *testing.T, c *clientv3.Client, root string, cidrs ...string) *fixture {
	t.Helper()
	s := &Services{IPs: map[corev1.IPFamily]*IPAllocator{}}
	for i, cidr := range cidrs {
		a, err := NewIP(c, mustCIDR(t, cidr), root)
		if err != nil {
			t.Fatal(err)
		}
		s.IPs[a.Family()] = a
		if i == 0 {
			s.DefaultFamily = a.Family()
		}
	}
	ports, err := NewPort(c, *utilnet.ParsePortRangeOrDie("30000-32767"), root)
	if err != nil {
		t.Fatal(err)
	}
	s.Ports = ports
	return &fixture{c: c, root: root, s: s}
}

// held lists every reservation as "ip/10.32.0.5" or "port/30080" -> owner.
func (f *fixture) held(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for kind, dir := range map[string]string{"ip": ipKeyDir, "port": portKeyDir} {
		st, _ := newKeyStore(f.c, f.root, dir)
		entries, err := st.list(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for name, e := range entries {
			out[kind+"/"+name] = e.owner()
		}
	}
	return out
}

// service builds a Service in namespace default with a selector.
func service(name string, opts ...func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
	for _, o := range opts {
		o(svc)
	}
	return svc
}

func ofType(t corev1.ServiceType) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.Type = t }
}

func withClusterIP(ips ...string) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = ips[0], ips }
}

func withPolicy(p corev1.IPFamilyPolicy) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.IPFamilyPolicy = &p }
}

func withFamilies(f ...corev1.IPFamily) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.IPFamilies = f }
}

func withPorts(p ...corev1.ServicePort) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.Ports = p }
}

func noSelector(s *corev1.Service) { s.Spec.Selector = nil }

func localTraffic(s *corev1.Service) {
	s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
}

func port(name string, p int32, proto corev1.Protocol, nodePort int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: p, Protocol: proto, NodePort: nodePort}
}

// wantInvalid checks err is a 422 with a cause on field whose message
// contains detail.
func wantInvalid(t *testing.T, err error, field, detail string) {
	t.Helper()
	var se *apierrors.StatusError
	if !errors.As(err, &se) || !apierrors.IsInvalid(err) {
		t.Fatalf("error = %v (%T), want a 422 Invalid StatusError", err, err)
	}
	for _, c := range se.ErrStatus.Details.Causes {
		if c.Field == field && strings.Contains(c.Message, detail) {
			return
		}
	}
	t.Fatalf("error = %v, want a cause on %s containing %q", err, field, detail)
}
