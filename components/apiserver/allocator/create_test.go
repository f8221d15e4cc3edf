package allocator

import (
	"context"
	"fmt"
	"maps"
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

const (
	v4CIDR = "10.32.0.0/24"
	v6CIDR = "fd00:10:32::/112"
)

// createCase is one Services.Create scenario, run by runCreateCases.
type createCase struct {
	name  string
	cidrs []string                                                        // default: v4CIDR only
	seed  func(t *testing.T, f *fixture)                                  // reservations made before
	svc   *corev1.Service                                                 //
	err   func(t *testing.T, err error)                                   // nil: Create must succeed
	check func(t *testing.T, svc *corev1.Service, held map[string]string) // after success
}

// runCreateCases runs each case under its own key root in one etcd, checks
// a failed Create leaves nothing behind, and a successful one is fully
// undone by its release func.
func runCreateCases(t *testing.T, tests []createCase) {
	c := startEtcd(t).client(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cidrs == nil {
				tt.cidrs = []string{v4CIDR}
			}
			f := newFixture(t, c, fmt.Sprintf("/case-%d", i), tt.cidrs...)
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

func TestCreateClusterIPs(t *testing.T) {
	runCreateCases(t, []createCase{
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
	})
}
