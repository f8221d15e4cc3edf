package allocator

import (
	"context"
	"fmt"
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestUpdate(t *testing.T) {
	c := startEtcd(t).client(t)
	tcp := corev1.ProtocolTCP
	nodePorts := func(svc *corev1.Service) []int32 {
		var out []int32
		for _, p := range svc.Spec.Ports {
			out = append(out, p.NodePort)
		}
		return out
	}
	tests := []struct {
		name     string
		cidrs    []string
		old      *corev1.Service               // created first
		edit     func(svc *corev1.Service)     // applied to a copy of the stored old
		rollback bool                          // the registry's write failed
		err      func(t *testing.T, err error) // nil: Update must succeed
		check    func(t *testing.T, old, svc *corev1.Service, held map[string]string)
	}{
		{
			name: "ClusterIP to NodePort allocates node ports",
			old:  service("web"),
			edit: func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort },
			check: func(t *testing.T, old, svc *corev1.Service, held map[string]string) {
				np := svc.Spec.Ports[0].NodePort
				if np == 0 || svc.Spec.ClusterIP != old.Spec.ClusterIP {
					t.Fatalf("nodePort %d, clusterIP %s; want a node port and the old IP %s", np, svc.Spec.ClusterIP, old.Spec.ClusterIP)
				}
				wantHeld(t, held, map[string]string{"ip/" + old.Spec.ClusterIP: "default/web", fmt.Sprintf("port/%d", np): "default/web"})
			},
		},
		{
			name:     "ClusterIP to NodePort, write failed",
			old:      service("web"),
			edit:     func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort },
			rollback: true,
			check: func(t *testing.T, old, svc *corev1.Service, held map[string]string) {
				wantHeld(t, held, map[string]string{"ip/" + old.Spec.ClusterIP: "default/web"})
			},
		},
		{
			name: "NodePort to ClusterIP releases node ports (kubectl edit leaves them in)",
			old:  service("web", ofType(corev1.ServiceTypeNodePort), withPorts(port("http", 80, tcp, 30080))),
			edit: func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP },
			check: func(t *testing.T, old, svc *corev1.Service, held map[string]string) {
				if np := nodePorts(svc); np[0] != 0 {
					t.Errorf("nodePorts = %v, want them cleared", np)
				}
				wantHeld(t, held, map[string]string{"ip/" + old.Spec.ClusterIP: "default/web"})
			},
		},
		{
			name:     "NodePort to ClusterIP, write failed: node ports stay",
			old:      service("web", ofType(corev1.ServiceTypeNodePort), withPorts(port("http", 80, tcp, 30080))),
			edit:     func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP },
			rollback: true,
			check: func(t *testing.T, old, svc *corev1.Service, held map[string]string) {
				wantHeld(t, held, map[string]string{"ip/" + old.Spec.ClusterIP: "default/web", "port/30080": "default/web"})
			},
		},
		{
			name: "to ExternalName releases the IP",
			old:  service("web"),
			edit: func(s *corev1.Service) {
				s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
			},
			check: func(t *testing.T, old, svc *corev1.Service, held map[string]string) {
				if svc.Spec.ClusterIP != "" || svc.Spec.ClusterIPs != nil || svc.Spec.IPFamilies != nil || svc.Spec.IPFamilyPolicy != nil {
					t.Errorf("spec = %+v, want the IP fields cleared", svc.Spec)
				}
				wantHeld(t, held, map[string]string{})
			},
		},
		{
			name: "from ExternalName allocates an IP",
			old:  service("web", ofType(corev1.ServiceTypeExternalName)),
			edit: func(s *corev1.Service) { s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeClusterIP, "" },
			check: func(t *testing.T, old, svc *corev1.Service, held map[string]string) {
				wantSpec(t, svc, []string{svc.Spec.ClusterIP}, []corev1.IPFamily{corev1.IPv4Protocol}, corev1.IPFamilyPolicySingleStack)
				wantHeld(t, held, map[string]string{"ip/" + svc.Spec.ClusterIP: "default/web"})
			},
		},
		{
			name: "clusterIP may not change",
			old:  service("web", withClusterIP("10.32.0.20")),
			edit: func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.32.0.21", []string{"10.32.0.21"} },
			err: func(t *testing.T, err error) {
				wantInvalid(t, err, "spec.clusterIPs[0]", "may not change once set")
			},
		},
		{
			name: "headless may not get an IP",
			old:  service("db", withClusterIP("None")),
			edit: func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.32.0.21", []string{"10.32.0.21"} },
			err: func(t *testing.T, err error) {
				wantInvalid(t, err, "spec.clusterIPs[0]", "may not change once set")
			},
		},
		{
			name: "replace without clusterIP keeps it",
			old:  service("web", withClusterIP("10.32.0.20")),
			edit: func(s *corev1.Service) {
				s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.IPFamilies, s.Spec.IPFamilyPolicy = "", nil, nil, nil
			},
			check: func(t *testing.T, old, svc *corev1.Service, held map[string]string) {
				wantSpec(t, svc, []string{"10.32.0.20"}, []corev1.IPFamily{corev1.IPv4Protocol}, corev1.IPFamilyPolicySingleStack)
				wantHeld(t, held, map[string]string{"ip/10.32.0.20": "default/web"})
			},
		},
		{
			name: "ports added and removed",
			old: service("web", ofType(corev1.ServiceTypeNodePort),
				withPorts(port("http", 80, tcp, 30080), port("metrics", 9090, tcp, 30090))),
			edit: func(s *corev1.Service) {
				s.Spec.Ports = []corev1.ServicePort{s.Spec.Ports[0], port("https", 443, tcp, 0)}
			},
			check: func(t *testing.T, old, svc *corev1.Service, held map[string]string) {
				np := nodePorts(svc)
				if np[0] != 30080 || np[1] == 0 || np[1] == 30090 {
					t.Fatalf("nodePorts = %v, want 30080 and a new one", np)
				}
				wantHeld(t, held, map[string]string{
					"ip/" + old.Spec.ClusterIP: "default/web", "port/30080": "default/web", fmt.Sprintf("port/%d", np[1]): "default/web",
				})
			},
		},
		{
			name: "replace without nodePorts keeps them (matched by port name)",
			old:  service("web", ofType(corev1.ServiceTypeNodePort), withPorts(port("http", 80, tcp, 30080))),
			edit: func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 0 },
			check: func(t *testing.T, old, svc *corev1.Service, held map[string]string) {
				if np := nodePorts(svc); np[0] != 30080 {
					t.Errorf("nodePorts = %v, want [30080]", np)
				}
				wantHeld(t, held, map[string]string{"ip/" + old.Spec.ClusterIP: "default/web", "port/30080": "default/web"})
			},
		},
		{
			name: "moving to a node port that is out of range",
			old:  service("web", ofType(corev1.ServiceTypeNodePort), withPorts(port("http", 80, tcp, 30080))),
			edit: func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 8080 },
			err: func(t *testing.T, err error) {
				wantInvalid(t, err, "spec.ports[0].nodePort", "provided port is not in the valid range")
			},
		},
		{
			name: "LoadBalancer Cluster to Local adds a health check node port",
			old:  service("web", ofType(corev1.ServiceTypeLoadBalancer)),
			edit: localTraffic,
			check: func(t *testing.T, old, svc *corev1.Service, held map[string]string) {
				if svc.Spec.HealthCheckNodePort == 0 || len(held) != 3 {
					t.Errorf("healthCheckNodePort %d, held %v; want a health check port", svc.Spec.HealthCheckNodePort, held)
				}
			},
		},
		{
			name: "LoadBalancer Local to Cluster releases it",
			old:  service("web", ofType(corev1.ServiceTypeLoadBalancer), localTraffic),
			edit: func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster },
			check: func(t *testing.T, old, svc *corev1.Service, held map[string]string) {
				if svc.Spec.HealthCheckNodePort != 0 || len(held) != 2 {
					t.Errorf("healthCheckNodePort %d, held %v; want it gone", svc.Spec.HealthCheckNodePort, held)
				}
			},
		},
		{
			name:  "upgrade to dual-stack",
			cidrs: []string{v4CIDR, v6CIDR},
			old:   service("web"),
			edit: func(s *corev1.Service) {
				p := corev1.IPFamilyPolicyPreferDualStack
				s.Spec.IPFamilyPolicy = &p
			},
			check: func(t *testing.T, old, svc *corev1.Service, held map[string]string) {
				ips := svc.Spec.ClusterIPs
				if len(ips) != 2 || ips[0] != old.Spec.ClusterIP || familyOf(ips[1]) != corev1.IPv6Protocol {
					t.Fatalf("clusterIPs = %v, want [%s <IPv6>]", ips, old.Spec.ClusterIP)
				}
				wantHeld(t, held, map[string]string{"ip/" + ips[0]: "default/web", "ip/" + ips[1]: "default/web"})
			},
		},
		{
			name:  "downgrade to single-stack",
			cidrs: []string{v4CIDR, v6CIDR},
			old:   service("web", withPolicy(corev1.IPFamilyPolicyRequireDualStack)),
			edit: func(s *corev1.Service) {
				p := corev1.IPFamilyPolicySingleStack
				s.Spec.IPFamilyPolicy = &p
			},
			check: func(t *testing.T, old, svc *corev1.Service, held map[string]string) {
				wantSpec(t, svc, old.Spec.ClusterIPs[:1], []corev1.IPFamily{corev1.IPv4Protocol}, corev1.IPFamilyPolicySingleStack)
				wantHeld(t, held, map[string]string{"ip/" + old.Spec.ClusterIP: "default/web"})
			},
		},
		{
			name:  "dropping the secondary needs SingleStack",
			cidrs: []string{v4CIDR, v6CIDR},
			old:   service("web", withPolicy(corev1.IPFamilyPolicyRequireDualStack)),
			edit: func(s *corev1.Service) {
				s.Spec.ClusterIPs, s.Spec.IPFamilies = s.Spec.ClusterIPs[:1], s.Spec.IPFamilies[:1]
			},
			err: func(t *testing.T, err error) {
				wantInvalid(t, err, "spec.clusterIPs[0]", "`ipFamilyPolicy` must be set to 'SingleStack'")
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cidrs == nil {
				tt.cidrs = []string{v4CIDR}
			}
			f := newFixture(t, c, fmt.Sprintf("/update-%d", i), tt.cidrs...)
			mustCreate(t, f, tt.old)
			svc := tt.old.DeepCopy()
			tt.edit(svc)
			before := f.held(t)
			commit, rollback, err := f.s.Update(context.Background(), svc, tt.old)
			if commit == nil || rollback == nil {
				t.Fatal("Update returned a nil func")
			}
			if tt.err != nil {
				tt.err(t, err)
				if after := f.held(t); !maps.Equal(before, after) {
					t.Errorf("failed Update changed reservations: before %v, after %v", before, after)
				}
				return
			}
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if tt.rollback {
				rollback()
			} else {
				commit()
			}
			commit() // only the first of commit/rollback counts
			tt.check(t, tt.old, svc, f.held(t))
		})
	}
}
