package images

import (
	"errors"
	"testing"
)

func TestNormalize(t *testing.T) {
	const dgst = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		in, want string
		local    bool
	}{
		{"busybox", "docker.io/library/busybox:latest", false},
		{"busybox:1.36", "docker.io/library/busybox:1.36", false},
		{"docker.io/busybox", "docker.io/library/busybox:latest", false},
		{"index.docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36", false},
		{"kubelab/agnhost:v1", "docker.io/kubelab/agnhost:v1", false},
		{"localhost/kubelab/busybox:v1", "localhost/kubelab/busybox:v1", true},
		{"localhost/busybox", "localhost/busybox:latest", true},
		{"localhost:5000/app", "localhost:5000/app:latest", false},
		{"127.0.0.1:5000/team/app:v2", "127.0.0.1:5000/team/app:v2", false},
		{"registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10", false},
		{"busybox@" + dgst, "docker.io/library/busybox@" + dgst, false},
		{"busybox:1.36@" + dgst, "docker.io/library/busybox@" + dgst, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			r, err := parseReference(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if r.norm != tc.want || r.local != tc.local {
				t.Errorf("parse(%q) = %q local=%v, want %q local=%v", tc.in, r.norm, r.local, tc.want, tc.local)
			}
			if repoOf(r.norm) != r.repo {
				t.Errorf("repoOf(%q) = %q, want %q", r.norm, repoOf(r.norm), r.repo)
			}
		})
	}
}

func TestNormalizeRejects(t *testing.T) {
	for _, in := range []string{"", "Busybox", "busybox:", "a b", " busybox", "busybox@sha256:short"} {
		if _, err := Normalize(in); err == nil {
			t.Errorf("Normalize(%q) succeeded", in)
		}
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&Error{Ref: "x", Kind: ErrImageNeverPull}, "ErrImageNeverPull"},
		{&Error{Ref: "x", Kind: ErrInvalidImageName, Err: errors.New("bad")}, "InvalidImageName"},
		{&Error{Ref: "x", Kind: ErrImagePull, Err: errors.New("401")}, "ErrImagePull"},
		{errors.New("other"), "ErrImagePull"},
	}
	for _, tc := range tests {
		if got := Reason(tc.err); got != tc.want {
			t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
