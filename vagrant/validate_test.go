package vagrant

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// vagrantCmd runs vagrant on the repository's Vagrantfile with its state kept in
// a temporary directory (not .vagrant in the checkout) and the given environment.
func vagrantCmd(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("vagrant", args...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "VAGRANT_DOTFILE_PATH="+filepath.Join(t.TempDir(), ".vagrant"),
		"VAGRANT_CHECKPOINT_DISABLE=1", "VAGRANT_NO_COLOR=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// fakeVBoxManage puts a VBoxManage on PATH that only knows its version: Vagrant
// asks it whether VirtualBox is usable before it validates VirtualBox settings,
// and no machine here (or in CI) has VirtualBox.
func fakeVBoxManage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\n[ \"$1\" = --version ] && echo 7.0.14r161095\nexit 0\n"
	if err := os.WriteFile(filepath.Join(dir, "VBoxManage"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir + ":" + os.Getenv("PATH")
}

// TestValidate runs `vagrant validate` for every topology and provider: no box,
// no VM and no network needed, and it still catches a wrong setting or a
// provisioner script that does not exist.
func TestValidate(t *testing.T) {
	need(t, "vagrant")
	if out, err := exec.Command("vagrant", "plugin", "list").CombinedOutput(); err != nil || !strings.Contains(string(out), "vagrant-libvirt") {
		t.Skipf("the vagrant-libvirt plugin is not installed (apt-get install vagrant-libvirt): %s", out)
	}
	topologies := []map[string]string{
		{},
		{"KUBELAB_TOPOLOGY": "ha"},
		{"KUBELAB_CONTROLLERS": "1", "KUBELAB_WORKERS": "0", "KUBELAB_MEMORY": "768", "KUBELAB_CPUS": "1"},
	}
	for _, provider := range []string{"libvirt", "virtualbox"} {
		for _, topo := range topologies {
			env := map[string]string{"VAGRANT_DEFAULT_PROVIDER": provider}
			var name []string
			for k, v := range topo {
				env[k] = v
				name = append(name, k+"="+v)
			}
			if provider == "virtualbox" {
				env["PATH"] = fakeVBoxManage(t)
			}
			t.Run(provider+"/"+strings.Join(name, ","), func(t *testing.T) {
				out, err := vagrantCmd(t, env, "validate")
				if err != nil || !strings.Contains(out, "validated successfully") {
					t.Fatalf("vagrant validate: %v\n%s", err, out)
				}
			})
		}
	}
	// Both drivers of libvirt are valid; anything else is refused by the Vagrantfile.
	for _, driver := range []string{"qemu", "kvm"} {
		if out, err := vagrantCmd(t, map[string]string{"KUBELAB_LIBVIRT_DRIVER": driver}, "validate"); err != nil {
			t.Errorf("driver %s: vagrant validate: %v\n%s", driver, err, out)
		}
	}
}

// TestValidateRefusesBadInput checks that mistakes stop vagrant before any VM
// exists, with a message that says what to change.
func TestValidateRefusesBadInput(t *testing.T) {
	need(t, "vagrant")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"too many workers", map[string]string{"KUBELAB_WORKERS": "12"}, []string{"validate"}, "KUBELAB_WORKERS=12 is too many"},
		{"bad driver", map[string]string{"KUBELAB_LIBVIRT_DRIVER": "xen"}, []string{"validate"}, "must be kvm or qemu"},
		// `provision` on machines that do not exist changes nothing even if the
		// guard were missing; `up` would start creating them.
		{"no binaries", map[string]string{"KUBELAB_BIN": "/nonexistent/kubelab-bin"}, []string{"provision"}, "make vm-binaries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := vagrantCmd(t, tt.env, tt.args...)
			if err == nil || !strings.Contains(out, tt.want) {
				t.Fatalf("vagrant %s: want an error saying %q, got err=%v:\n%s", strings.Join(tt.args, " "), tt.want, err, out)
			}
		})
	}
}
