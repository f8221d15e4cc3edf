package controllers

import (
	"slices"
	"strings"
	"testing"
)

func TestEnabled(t *testing.T) {
	tests := []struct {
		selection []string
		want      []string
		wantErr   bool
	}{
		{selection: nil, want: []string{"garbagecollector", "namespace"}},
		{selection: []string{"*"}, want: []string{"garbagecollector", "namespace"}},
		{selection: []string{"namespace"}, want: []string{"namespace"}},
		{selection: []string{"*", "-garbagecollector"}, want: []string{"namespace"}},
		{selection: []string{"-namespace"}, want: nil},
		{selection: []string{"replicaset"}, wantErr: true},
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
