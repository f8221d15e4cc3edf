package allocator

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestRepair(t *testing.T) {
	ctx := context.Background()
	c := startEtcd(t).client(t)
	tcp := corev1.ProtocolTCP

	// putRecord writes a reservation directly, as a crashed apiserver or a
	// restored backup would have left it.
	putRecord := func(t *testing.T, f *fixture, dir, name, owner string, at time.Time) {
		t.Helper()
		st, _ := newKeyStore(f.c, f.root, dir)
		r := newRecord(owner, at)
		b, _ := json.Marshal(r)
		if _, err := f.c.Put(ctx, st.key(name), string(b)); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)

	tests := []struct {
		name     string
		setup    func(t *testing.T, f *fixture) []corev1.Service // returns the Services that exist
		want     map[string]string
		wantLogs []string
	}{
		{
			name: "leaked IP and port are released",
			setup: func(t *testing.T, f *fixture) []corev1.Service {
				putRecord(t, f, ipKeyDir, "10.32.0.77", "default/crashed", old)
				putRecord(t, f, portKeyDir, "30077", "default/crashed", old)
				return nil
			},
			want:     map[string]string{},
			wantLogs: []string{"released leaked reservation"},
		},
		{
			name: "a young reservation may be a Create in flight on another replica",
			setup: func(t *testing.T, f *fixture) []corev1.Service {
				putRecord(t, f, ipKeyDir, "10.32.0.78", "default/creating", time.Now())
				return nil
			},
			want:     map[string]string{"ip/10.32.0.78": "default/creating"},
			wantLogs: []string{"leaving it for now"},
		},
		{
			name: "missing reservations are re-created",
			setup: func(t *testing.T, f *fixture) []corev1.Service {
				svc := service("web", ofType(corev1.ServiceTypeNodePort), withClusterIP("10.32.0.20"),
					withPorts(port("http", 80, tcp, 30080)))
				return []corev1.Service{*svc}
			},
			want:     map[string]string{"ip/10.32.0.20": "default/web", "port/30080": "default/web"},
			wantLogs: []string{"re-created missing reservation"},
		},
		{
			name: "wrong owner is fixed",
			setup: func(t *testing.T, f *fixture) []corev1.Service {
				putRecord(t, f, ipKeyDir, "10.32.0.21", "default/someone-else", old)
				return []corev1.Service{*service("web", withClusterIP("10.32.0.21"))}
			},
			want:     map[string]string{"ip/10.32.0.21": "default/web"},
			wantLogs: []string{"wrong owner"},
		},
		{
			name: "healthy state is left alone",
			setup: func(t *testing.T, f *fixture) []corev1.Service {
				svc := service("web", ofType(corev1.ServiceTypeLoadBalancer), localTraffic)
				mustCreate(t, f, svc)
				return []corev1.Service{*svc, *service("db", withClusterIP("None")), *service("x", ofType(corev1.ServiceTypeExternalName))}
			},
			wantLogs: []string{},
		},
		{
			name: "out of range values are reported, not reserved",
			setup: func(t *testing.T, f *fixture) []corev1.Service {
				return []corev1.Service{*service("web", withClusterIP("10.99.0.1"))}
			},
			want:     map[string]string{},
			wantLogs: []string{"not within any service CIDR"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, c, "/repair-"+string(rune('a'+i)), v4CIDR)
			var logs bytes.Buffer
			f.s.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			services := tt.setup(t, f)
			want := tt.want
			if want == nil {
				want = f.held(t) // unchanged
			}
			if err := f.s.Repair(ctx, services); err != nil {
				t.Fatalf("Repair: %v", err)
			}
			wantHeld(t, f.held(t), want)
			for _, w := range tt.wantLogs {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("logs = %q, want a line containing %q", logs.String(), w)
				}
			}
			if len(tt.wantLogs) == 0 && logs.Len() > 0 {
				t.Errorf("logs = %q, want none", logs.String())
			}
		})
	}
}
