package containerenv

import "testing"

func TestExpand(t *testing.T) {
	vars := map[string]string{"VAR_A": "A", "VAR_B": "B", "EMPTY": "", "VAR_REF": "$(VAR_A)"}
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"$(VAR_A)", "A"},
		{"___$(VAR_A)___", "___A___"},
		{"$(VAR_A)-$(VAR_B)", "A-B"},
		{"$(VAR_REF)", "$(VAR_A)"}, // no recursion
		{"$(EMPTY)x", "x"},
		{"$(UNKNOWN)", "$(UNKNOWN)"},
		{"$$(VAR_A)", "$(VAR_A)"},
		{"$$$(VAR_A)", "$A"},
		{"$$$$(VAR_A)", "$$(VAR_A)"},
		{"$$", "$"},
		{"$", "$"},
		{"x$", "x$"},
		{"$x", "$x"},
		{"$(VAR_A", "$(VAR_A"},
		{"$()", "$()"},
		{"$(VAR_A)$", "A$"},
		{"$(VAR_A)$(", "A$("},
		{"$(VAR_A)$(VAR_B", "A$(VAR_B"},
		{"f000-$$VAR_A", "f000-$VAR_A"},
		{"${VAR_A}", "${VAR_A}"},
	}
	m := MappingFor(vars)
	for _, tt := range tests {
		if got := Expand(tt.in, m); got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMappingForOrder(t *testing.T) {
	m := MappingFor(map[string]string{"A": "first"}, map[string]string{"A": "second", "B": "b"})
	if m("A") != "first" || m("B") != "b" || m("C") != "$(C)" {
		t.Errorf("mapping = %q %q %q", m("A"), m("B"), m("C"))
	}
}
