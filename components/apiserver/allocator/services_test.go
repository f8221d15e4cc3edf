package allocator

import (
	"context"
	"fmt"
	"maps"
	"net"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
)

const (
	v4CIDR = "10.32.0.0/24"
	v6CIDR = "fd00:10:32::/112"
)

func TestCreate(t *testing.T) {
	c := startEtcd(t).client(t)
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	tests := []struct {
		name  string
		cidrs []string                                                        // default: v4CIDR only
		seed  func(t *testing.T, f *fixture)                                  // reservations made before
		svc   *corev1.Service                                                 //
		err   func(t *testing.T, err error)                                   // nil: Create must succeed
		check func(t *testing.T, svc *corev1.Service, held map[string]string) // after success
	}{
		{
			name: "clusterIP allocated",
			svc:  service("web"),
			check: func(t *testing.T, svc *corev1.Service, held map[string]string) {
				ip := net.ParseIP(svc.Spec.ClusterIP)
				if ip == nil || !mustCIDR(t, v4CIDR).Contains(ip) || svc.Spec.ClusterIP == "10.32.0.1" {
					t.Errorf("clusterIP = %q, want a free address in %s other than .1", svc.Spec.ClusterIP, v4CIDR)
				}
				wantSpec(t, svc, []string{svc.Spec.ClusterIP}, []corev1.IPFamily{corev1.IPv4Protocol}, corev1.IPFamilyPolicySingleStack)
				wantHeld(t, held, map[string]string{"ip/" + svc.Spec.ClusterIP: "default/web"})
			},
		},
		{
			name: "requested clusterIP honoured",
			svc:  service("kube-dns", withClusterIP("10.32.0.10")),
			check: func(t *testing.T, svc *corev1.Service, held map[string]string) {
				wantSpec(t, svc, []string{"10.32.0.10"}, []corev1.IPFamily{corev1.IPv4Protocol}, corev1.IPFamilyPolicySingleStack)
				wantHeld(t, held, map[string]string{"ip/10.32.0.10": "default/kube-dns"})
			},
		},
		{
			name: "the kubernetes service gets the first address by asking",
			svc:  service("kubernetes", withClusterIP("10.32.0.1")),
			check: func(t *testing.T, svc *corev1.Service, held map[string]string) {
				wantHeld(t, held, map[string]string{"ip/10.32.0.1": "default/kubernetes"})
			},
		},
		{
			name: "requested clusterIP out of range",
			svc:  service("web", withClusterIP("10.33.0.5")),
			err: func(t *testing.T, err error) {
				wantInvalid(t, err, "spec.clusterIPs[0]", "provided IP is not in the valid range. The range of valid IPs is 10.32.0.0/24")
			},
		},
		{
			name: "requested clusterIP taken",
			seed: func(t *testing.T, f *fixture) {
				mustCreate(t, f, service("first", withClusterIP("10.32.0.50")))
			},
			svc: service("web", withClusterIP("10.32.0.50")),
			err: func(t *testing.T, err error) {
				wantInvalid(t, err, "spec.clusterIPs[0]", "provided IP is already allocated")
			},
		},
		{
			name: "clusterIP that is not an IP",
			svc:  service("web", withClusterIP("ten.thirty-two")),
			err: func(t *testing.T, err error) {
				wantInvalid(t, err, "spec.clusterIPs[0]", "must be a valid IP address")
			},
		},
		{
			name: "headless",
			svc:  service("db", withClusterIP("None")),
			check: func(t *testing.T, svc *corev1.Service, held map[string]string) {
				wantSpec(t, svc, []string{"None"}, []corev1.IPFamily{corev1.IPv4Protocol}, corev1.IPFamilyPolicySingleStack)
				wantHeld(t, held, map[string]string{})
			},
		},
		{
			name: "headless without selector may be dual-stack on a single-stack cluster",
			svc:  service("external-db", withClusterIP("None"), noSelector),
			check: func(t *testing.T, svc *corev1.Service, held map[string]string) {
				wantSpec(t, svc, []string{"None"}, []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, corev1.IPFamilyPolicyRequireDualStack)
				wantHeld(t, held, map[string]string{})
			},
		},
		{
			name: "ExternalName gets nothing",
			svc:  service("search", ofType(corev1.ServiceTypeExternalName)),
			check: func(t *testing.T, svc *corev1.Service, held map[string]string) {
				if svc.Spec.ClusterIP != "" || svc.Spec.IPFamilies != nil || svc.Spec.IPFamilyPolicy != nil {
					t.Errorf("ExternalName spec = %+v, want no IP fields", svc.Spec)
				}
				wantHeld(t, held, map[string]string{})
			},
		},
		{
			name: "ExternalName with a clusterIP",
			svc:  service("search", ofType(corev1.ServiceTypeExternalName), withClusterIP("10.32.0.9")),
			err: func(t *testing.T, err error) {
				wantInvalid(t, err, "spec.clusterIP", "may not be set for ExternalName services")
			},
		},
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
		{
			name: "RequireDualStack on a single-stack cluster",
			svc:  service("web", withPolicy(corev1.IPFamilyPolicyRequireDualStack)),
			err: func(t *testing.T, err error) {
				wantInvalid(t, err, "spec.ipFamilyPolicy", "this cluster is not configured for dual-stack services")
			},
		},
		{
			name: "PreferDualStack on a single-stack cluster",
			svc:  service("web", withPolicy(corev1.IPFamilyPolicyPreferDualStack)),
			check: func(t *testing.T, svc *corev1.Service, held map[string]string) {
				wantSpec(t, svc, []string{svc.Spec.ClusterIP}, []corev1.IPFamily{corev1.IPv4Protocol}, corev1.IPFamilyPolicyPreferDualStack)
			},
		},
		{
			name: "IPv6 clusterIP on an IPv4 cluster",
			svc:  service("web", withClusterIP("fd00:10:32::5")),
			err: func(t *testing.T, err error) {
				wantInvalid(t, err, "spec.clusterIPs[0]", "IPv6 is not configured on this cluster")
			},
		},
		{
			name:  "dual-stack: PreferDualStack gets one IP per family",
			cidrs: []string{v4CIDR, v6CIDR},
			svc:   service("web", withPolicy(corev1.IPFamilyPolicyPreferDualStack)),
			check: func(t *testing.T, svc *corev1.Service, held map[string]string) {
				ips := svc.Spec.ClusterIPs
				if len(ips) != 2 || familyOf(ips[0]) != corev1.IPv4Protocol || familyOf(ips[1]) != corev1.IPv6Protocol {
					t.Fatalf("clusterIPs = %v, want an IPv4 then an IPv6 address", ips)
				}
				wantSpec(t, svc, ips, []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, corev1.IPFamilyPolicyPreferDualStack)
				wantHeld(t, held, map[string]string{"ip/" + ips[0]: "default/web", "ip/" + ips[1]: "default/web"})
			},
		},
		{
			name:  "dual-stack: IPv6 first with a requested secondary",
			cidrs: []string{v4CIDR, v6CIDR},
			svc: service("web", withPolicy(corev1.IPFamilyPolicyRequireDualStack),
				withFamilies(corev1.IPv6Protocol, corev1.IPv4Protocol), withClusterIP("fd00:10:32::10", "10.32.0.10")),
			check: func(t *testing.T, svc *corev1.Service, held map[string]string) {
				wantSpec(t, svc, []string{"fd00:10:32::10", "10.32.0.10"},
					[]corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol}, corev1.IPFamilyPolicyRequireDualStack)
				wantHeld(t, held, map[string]string{"ip/fd00:10:32::10": "default/web", "ip/10.32.0.10": "default/web"})
			},
		},
		{
			name:  "dual-stack: second family fails, first is released",
			cidrs: []string{v4CIDR, v6CIDR},
			svc: service("web", withPolicy(corev1.IPFamilyPolicyRequireDualStack),
				withClusterIP("10.32.0.10", "fd00:99::1")),
			err: func(t *testing.T, err error) {
				wantInvalid(t, err, "spec.clusterIPs[1]", "provided IP is not in the valid range")
			},
		},
		{
			name:  "single-stack default on a dual-stack cluster",
			cidrs: []string{v6CIDR, v4CIDR},
			svc:   service("web"),
			check: func(t *testing.T, svc *corev1.Service, held map[string]string) {
				wantSpec(t, svc, []string{svc.Spec.ClusterIP}, []corev1.IPFamily{corev1.IPv6Protocol}, corev1.IPFamilyPolicySingleStack)
			},
		},
		{
			name:  "range full is an internal error",
			cidrs: []string{"10.32.0.0/30"},
			seed: func(t *testing.T, f *fixture) {
				mustCreate(t, f, service("first"))
			},
			svc: service("web"),
			err: func(t *testing.T, err error) {
				if !apierrors.IsInternalError(err) {
					t.Fatalf("error = %v, want a 500 InternalError", err)
				}
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cidrs == nil {
				tt.cidrs = []string{v4CIDR}
			}
			f := newFixture(t, c, fmt.Sprintf("/create-%d", i), tt.cidrs...)
			if tt.seed != nil {
				tt.seed(t, f)
			}
			before := f.held(t)
			release, err := f.s.Create(context.Background(), tt.svc)
			if release == nil {
				t.Fatal("Create returned a nil release func")
			}
			if tt.err != nil {
				tt.err(t, err)
				if after := f.held(t); !maps.Equal(before, after) {
					t.Errorf("failed Create left reservations: before %v, after %v", before, after)
				}
				return
			}
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			held := f.held(t)
			for k := range before {
				delete(held, k)
			}
			tt.check(t, tt.svc, held)
			// The registry's write failed: release gives everything back.
			release()
			if after := f.held(t); !maps.Equal(before, after) {
				t.Errorf("after release: %v, want %v", after, before)
			}
		})
	}
}

// TestCreateRaceBetweenReplicas: two apiservers create Services asking for
// the same clusterIP at the same moment; exactly one gets it.
func TestCreateRaceBetweenReplicas(t *testing.T) {
	e := startEtcd(t)
	replicas := []*fixture{newFixture(t, e.client(t), "", v4CIDR), newFixture(t, e.client(t), "", v4CIDR)}
	const racers = 10
	errs := make(chan error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			_, err := replicas[i%2].s.Create(context.Background(), service(fmt.Sprintf("dns-%d", i), withClusterIP("10.32.0.10")))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	wins := 0
	for err := range errs {
		if err == nil {
			wins++
			continue
		}
		wantInvalid(t, err, "spec.clusterIPs[0]", "provided IP is already allocated")
	}
	if wins != 1 {
		t.Fatalf("%d Services got 10.32.0.10, want exactly 1", wins)
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, startEtcd(t).client(t), "", v4CIDR, v6CIDR)
	web := service("web", ofType(corev1.ServiceTypeLoadBalancer), localTraffic, withPolicy(corev1.IPFamilyPolicyRequireDualStack))
	mustCreate(t, f, web)
	if got := len(f.held(t)); got != 4 {
		t.Fatalf("held %v, want 2 IPs, a node port and a health check port", f.held(t))
	}
	// A stale copy of a Service whose IP was since freed and handed to
	// another Service must not take it away.
	stale := service("old", withClusterIP("10.32.0.99"))
	mustCreate(t, f, service("new", withClusterIP("10.32.0.99")))

	tests := []struct {
		name string
		svc  *corev1.Service
		want map[string]string
	}{
		{name: "everything a service held", svc: web, want: map[string]string{"ip/10.32.0.99": "default/new"}},
		{name: "not what another service holds now", svc: stale, want: map[string]string{"ip/10.32.0.99": "default/new"}},
		{name: "twice is harmless", svc: web, want: map[string]string{"ip/10.32.0.99": "default/new"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := f.s.Delete(ctx, tt.svc); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			wantHeld(t, f.held(t), tt.want)
		})
	}
}

func mustCreate(t *testing.T, f *fixture, svc *corev1.Service) {
	t.Helper()
	if _, err := f.s.Create(context.Background(), svc); err != nil {
		t.Fatalf("create %s: %v", svc.Name, err)
	}
}

func wantSpec(t *testing.T, svc *corev1.Service, ips []string, fams []corev1.IPFamily, policy corev1.IPFamilyPolicy) {
	t.Helper()
	spec := svc.Spec
	if fmt.Sprint(spec.ClusterIPs) != fmt.Sprint(ips) || len(ips) > 0 && spec.ClusterIP != ips[0] {
		t.Errorf("clusterIP %q, clusterIPs %v; want clusterIPs %v", spec.ClusterIP, spec.ClusterIPs, ips)
	}
	if fmt.Sprint(spec.IPFamilies) != fmt.Sprint(fams) {
		t.Errorf("ipFamilies %v, want %v", spec.IPFamilies, fams)
	}
	if spec.IPFamilyPolicy == nil || *spec.IPFamilyPolicy != policy {
		t.Errorf("ipFamilyPolicy %v, want %s", ptr.Deref(spec.IPFamilyPolicy, ""), policy)
	}
}

func wantHeld(t *testing.T, got, want map[string]string) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("reservations = %v, want %v", got, want)
	}
}
