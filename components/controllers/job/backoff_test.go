package job

import (
	"testing"
	"time"
)

func TestBackoffRemaining(t *testing.T) {
	last := now.Add(-5 * time.Second)
	tests := []struct {
		failures int32
		want     time.Duration
	}{
		{0, 0},
		{1, 5 * time.Second},                // 10s after the failure
		{2, 15 * time.Second},               // 20s
		{3, 35 * time.Second},               // 40s
		{10, 6*time.Minute - 5*time.Second}, // capped at six minutes
	}
	for _, tt := range tests {
		r := backoffRecord{failuresAfterLastSuccess: tt.failures, lastFailureTime: &last}
		if got := r.remaining(now); got != tt.want {
			t.Errorf("%d failures: remaining %s, want %s", tt.failures, got, tt.want)
		}
	}
}

func TestIndexSet(t *testing.T) {
	tests := []struct {
		in          string
		completions int
		want        string
	}{
		{"", 5, ""},
		{"0,1,2,5", 10, "0-2,5"},
		{"0-2,4-6", 10, "0-2,4-6"},
		{"3-9", 5, "3-4"}, // indexes past completions are dropped
		{"1,3,2", 5, "1-3"},
	}
	for _, tt := range tests {
		if got := parseIndexes(tt.in, tt.completions).String(); got != tt.want {
			t.Errorf("parseIndexes(%q, %d) = %q, want %q", tt.in, tt.completions, got, tt.want)
		}
	}
}
