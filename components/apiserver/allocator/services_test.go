package allocator

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

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
