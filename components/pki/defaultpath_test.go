package pki

import (
	"path/filepath"
	"testing"
)

func TestDefaultPath(t *testing.T) {
	sep := string(filepath.ListSeparator)
	tests := []struct {
		name, flag, env, want string
	}{
		{name: "flag wins", flag: "/tmp/flag.conf", env: "/tmp/env.conf", want: "/tmp/flag.conf"},
		{name: "KUBECONFIG", env: "/tmp/env.conf", want: "/tmp/env.conf"},
		{name: "first KUBECONFIG entry", env: "/tmp/a.conf" + sep + "/tmp/b.conf", want: "/tmp/a.conf"},
		{name: "empty KUBECONFIG entries skipped", env: sep + "/tmp/b.conf", want: "/tmp/b.conf"},
		{name: "home directory", want: "/home/student/.kube/config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HOME", "/home/student")
			t.Setenv("KUBECONFIG", tt.env)
			if got := DefaultPath(tt.flag); got != tt.want {
				t.Errorf("DefaultPath(%q) = %q, want %q", tt.flag, got, tt.want)
			}
		})
	}
}
