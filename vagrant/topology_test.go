package vagrant

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// repoRoot is the repository's top directory (where the Vagrantfile is).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

func need(t *testing.T, commands ...string) {
	t.Helper()
	for _, c := range commands {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("%s is not installed (apt-get install vagrant brings it): skipping", c)
		}
	}
}

type machine struct {
	Name   string `json:"name"`
	Role   string `json:"role"`
	IP     string `json:"ip"`
	Memory int    `json:"memory"`
	CPUs   int    `json:"cpus"`
}

// topology runs vagrant/topology.rb, the rules the Vagrantfile uses, with env.
func topology(t *testing.T, env map[string]string) ([]machine, string, error) {
	t.Helper()
	cmd := exec.Command("ruby", filepath.Join(repoRoot(t), "vagrant", "topology.rb"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, stderr.String(), err
	}
	var ms []machine
	if err := json.Unmarshal(out, &ms); err != nil {
		t.Fatalf("topology.rb printed no JSON: %v\n%s", err, out)
	}
	return ms, stderr.String(), nil
}

func TestTopology(t *testing.T) {
	need(t, "ruby")
	tests := []struct {
		name   string
		env    map[string]string
		want   []string // "name ip memory cpus"
		errHas string   // the message must name the variable
	}{
		{name: "default", want: []string{
			"controller-0 10.240.0.10 2048 2", "worker-0 10.240.0.20 2048 2", "worker-1 10.240.0.21 2048 2",
		}},
		{name: "ha", env: map[string]string{"KUBELAB_TOPOLOGY": "ha"}, want: []string{
			"controller-0 10.240.0.10 2048 2", "controller-1 10.240.0.11 2048 2", "controller-2 10.240.0.12 2048 2",
			"worker-0 10.240.0.20 2048 2", "worker-1 10.240.0.21 2048 2",
		}},
		{name: "counts override the topology", env: map[string]string{"KUBELAB_TOPOLOGY": "ha", "KUBELAB_WORKERS": "0"},
			want: []string{"controller-0 10.240.0.10 2048 2", "controller-1 10.240.0.11 2048 2", "controller-2 10.240.0.12 2048 2"}},
		{name: "sizes for all, then per role", env: map[string]string{
			"KUBELAB_MEMORY": "768", "KUBELAB_CPUS": "1", "KUBELAB_WORKER_MEMORY": "4096", "KUBELAB_WORKERS": "1",
		}, want: []string{"controller-0 10.240.0.10 768 1", "worker-0 10.240.0.20 4096 1"}},
		{name: "another subnet", env: map[string]string{"KUBELAB_SUBNET": "192.168.56.0/24", "KUBELAB_WORKERS": "1"},
			want: []string{"controller-0 192.168.56.10 2048 2", "worker-0 192.168.56.20 2048 2"}},
		{name: "unknown topology", env: map[string]string{"KUBELAB_TOPOLOGY": "large"}, errHas: "KUBELAB_TOPOLOGY"},
		{name: "no controller", env: map[string]string{"KUBELAB_CONTROLLERS": "0"}, errHas: "KUBELAB_CONTROLLERS"},
		{name: "too many workers", env: map[string]string{"KUBELAB_WORKERS": "11"}, errHas: "KUBELAB_WORKERS=11 is too many"},
		{name: "not a number", env: map[string]string{"KUBELAB_MEMORY": "2G"}, errHas: "KUBELAB_MEMORY"},
		{name: "too little memory", env: map[string]string{"KUBELAB_WORKER_MEMORY": "128"}, errHas: "KUBELAB_WORKER_MEMORY"},
		{name: "not a /24", env: map[string]string{"KUBELAB_SUBNET": "10.240.0.0/16"}, errHas: "KUBELAB_SUBNET"},
		{name: "not a network address", env: map[string]string{"KUBELAB_SUBNET": "10.240.0.7/24"}, errHas: "KUBELAB_SUBNET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, stderr, err := topology(t, tt.env)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(stderr, tt.errHas) {
					t.Fatalf("want an error naming %q, got err=%v stderr=%q machines=%v", tt.errHas, err, stderr, ms)
				}
				return
			}
			if err != nil {
				t.Fatalf("topology.rb: %v: %s", err, stderr)
			}
			var got []string
			for _, m := range ms {
				if !strings.HasPrefix(m.Name, m.Role+"-") {
					t.Errorf("machine %s has role %s", m.Name, m.Role)
				}
				got = append(got, strings.Join([]string{m.Name, m.IP, strconv.Itoa(m.Memory), strconv.Itoa(m.CPUs)}, " "))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("machines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
