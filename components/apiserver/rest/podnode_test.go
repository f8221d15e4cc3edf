package rest

import (
	"net/url"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodContainer(t *testing.T) {
	pod := func(annotation string, names ...string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}}
		if annotation != "" {
			p.Annotations = map[string]string{"kubectl.kubernetes.io/default-container": annotation}
		}
		p.Spec.InitContainers = []corev1.Container{{Name: "init"}}
		for _, n := range names {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n})
		}
		return p
	}
	tests := []struct {
		name, asked string
		pod         *corev1.Pod
		want, err   string
	}{
		{name: "named", asked: "b", pod: pod("", "a", "b"), want: "b"},
		{name: "init container", asked: "init", pod: pod("", "a"), want: "init"},
		{name: "the only one", pod: pod("", "a"), want: "a"},
		{name: "annotation", pod: pod("b", "a", "b"), want: "b"},
		{name: "ambiguous", pod: pod("", "a", "b"), err: "a container name must be specified for pod web, choose one of: [init a b]"},
		{name: "unknown", asked: "x", pod: pod("", "a"), err: "container x is not valid for pod web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := podContainer(tt.pod, tt.asked)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestStreamParams(t *testing.T) {
	tests := []struct {
		sub, query, path, want, err string
	}{
		{"exec", "command=sh&command=-c&command=ls&stdin=true&stdout=true&tty=true&container=app", "exec",
			"command=sh&command=-c&command=ls&input=1&output=1&tty=1", ""},
		{"exec", "stdout=true", "", "", "at least one command"},
		{"exec", "command=ls&tty=true", "", "", "at least 1 of stdin, stdout, stderr"},
		{"attach", "stdout=true&stderr=true", "attach", "error=1&output=1", ""},
		{"portforward", "ports=80&ports=8080", "portForward", "port=80&port=8080", ""},
		{"portforward", "ports=0", "", "", "invalid port"},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		params, path, err := streamParams(tt.sub, q)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s?%s: err = %v, want %q", tt.sub, tt.query, err, tt.err)
			}
			continue
		}
		if err != nil || path != tt.path || params.Encode() != tt.want {
			t.Errorf("%s?%s = %s?%s, %v; want %s?%s", tt.sub, tt.query, path, params.Encode(), err, tt.path, tt.want)
		}
	}
}

func TestPodLogOptions(t *testing.T) {
	tests := []struct{ query, want, err string }{
		{"container=app&follow=true&tailLines=10&timestamps=true", "follow=true&tailLines=10&timestamps=true", ""},
		{"sinceTime=2026-01-01T00:00:00Z&limitBytes=100&previous=1", "limitBytes=100&previous=true&sinceTime=2026-01-01T00%3A00%3A00Z", ""},
		{"tailLines=-1", "", "tailLines: Invalid value: -1"},
		{"sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z", "", "at most one of `sinceTime` or `sinceSeconds`"},
		{"tailLines=x", "", "is not an integer"},
		{"stream=Stdout&tailLines=1", "", "mutually exclusive"},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		_, _, _, params, err := podLogOptions(q, "web")
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want %q", tt.query, err, tt.err)
			}
			continue
		}
		if err != nil || params.Encode() != tt.want {
			t.Errorf("%s: %s, %v; want %s", tt.query, params.Encode(), err, tt.want)
		}
	}
}
