package controllers

import (
	"slices"
	"strings"
	"testing"
)

func TestEnabled(t *testing.T) {
	all := KnownControllers()
	without := func(names ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(n string) bool { return slices.Contains(names, n) })
	}
	tests := []struct {
		selection []string
		want      []string
		wantErr   bool
	}{
		{selection: nil, want: all},
		{selection: []string{"*"}, want: all},
		{selection: []string{"namespace"}, want: []string{"namespace"}},
		{selection: []string{"*", "-garbagecollector"}, want: without("garbagecollector")},
		{selection: []string{"*", "-garbagecollector", "-job"}, want: without("garbagecollector", "job")},
		{selection: []string{"-namespace"}, want: nil},
		{selection: []string{"replicaset", "deployment"}, want: []string{"deployment", "replicaset"}},
		{selection: []string{"no-such-controller"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.selection, ","), func(t *testing.T) {
			got, err := enabled(tt.selection)
			if (err != nil) != tt.wantErr {
				t.Fatalf("enabled(%q) error = %v, want error %v", tt.selection, err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("enabled(%q) = %q, want %q", tt.selection, got, tt.want)
			}
		})
	}
}

// TestKnownControllers pins the controllers kube-controller-manager offers,
// by upstream's --controllers names.
func TestKnownControllers(t *testing.T) {
	for _, name := range []string{"cronjob", "deployment", "endpoint", "endpointslice", "garbagecollector",
		"daemonset", "horizontalpodautoscaling", "job", "namespace", "nodeipam", "nodelifecycle", "podgc", "replicaset", "statefulset", "replicationcontroller", "disruption",
		"root-ca-cert-publisher", "serviceaccount", "ttl-after-finished"} {
		if !slices.Contains(KnownControllers(), name) {
			t.Errorf("controller %q is not registered (have %q)", name, KnownControllers())
		}
	}
}
