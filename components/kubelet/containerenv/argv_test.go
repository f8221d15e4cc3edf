package containerenv

import (
	"errors"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestArgv(t *testing.T) {
	env := []corev1.EnvVar{{Name: "WHO", Value: "world"}}
	ep, cmd := []string{"/entry"}, []string{"--default"}
	tests := []struct {
		name          string
		ep, cmd       []string
		command, args []string
		want          []string
		err           error
	}{
		{"image only", ep, cmd, nil, nil, []string{"/entry", "--default"}, nil},
		{"args replace cmd", ep, cmd, nil, []string{"hi", "$(WHO)"}, []string{"/entry", "hi", "world"}, nil},
		{"command drops cmd", ep, cmd, []string{"/bin/sh", "-c", "echo $(WHO) $$(WHO)"}, nil, []string{"/bin/sh", "-c", "echo world $(WHO)"}, nil},
		{"command and args", ep, cmd, []string{"/bin/echo"}, []string{"$(WHO)", "$(UNSET)"}, []string{"/bin/echo", "world", "$(UNSET)"}, nil},
		{"cmd without entrypoint", nil, []string{"/bin/app"}, nil, nil, []string{"/bin/app"}, nil},
		{"nothing", nil, nil, nil, nil, nil, ErrNoCommand},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Argv(tt.ep, tt.cmd, &corev1.Container{Command: tt.command, Args: tt.args}, env)
			if !errors.Is(err, tt.err) || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Argv = %q %v, want %q %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	got := Strings([]string{"PATH=/bin", "HOME=/root"}, []corev1.EnvVar{{Name: "HOME", Value: "/home/x"}, {Name: "A", Value: "b=c"}})
	want := []string{"PATH=/bin", "HOME=/home/x", "A=b=c"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Strings = %q, want %q", got, want)
	}
}
