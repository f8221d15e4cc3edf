package vagrant

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// provision runs a provisioning script with PROVISION_ROOT=root, in a UTS
// namespace of its own (provision-hosts.sh sets the hostname, and must not set
// this machine's).
func provision(t *testing.T, root, script string, args ...string) (string, error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the provisioning scripts run as root (as Vagrant runs them): skipping as non-root")
	}
	need(t, "unshare")
	cmd := exec.Command("unshare", append([]string{"--uts", "bash", filepath.Join(repoRoot(t), "vagrant", script)}, args...)...)
	cmd.Env = append(os.Environ(), "PROVISION_ROOT="+root)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProvisionHosts(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	hosts := filepath.Join(root, "etc", "hosts")
	// What a Debian box has after Vagrant set the hostname, plus a user's line.
	before := "127.0.0.1\tlocalhost\n127.0.1.1\tcontroller-0 controller-0.local\n" +
		"10.240.0.10 controller-0\n192.168.1.5 printer\n"
	if err := os.WriteFile(hosts, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	three := []string{"10.240.0.10 controller-0", "10.240.0.20 worker-0", "10.240.0.21 worker-1"}
	args := append([]string{"controller-0", "controller", "10.240.0.10"}, three...)

	out, err := provision(t, root, "provision-hosts.sh", args...)
	if err != nil {
		t.Fatalf("provision-hosts.sh: %v\n%s", err, out)
	}
	got := readFile(t, hosts)
	for _, want := range append([]string{"127.0.0.1\tlocalhost", "192.168.1.5 printer"}, three...) {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("/etc/hosts lost or lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "127.0.1.1") {
		t.Errorf("/etc/hosts still maps controller-0 to loopback:\n%s", got)
	}
	env := readFile(t, filepath.Join(root, "etc", "kubelab", "machine.env"))
	if env != "NAME=controller-0\nROLE=controller\nIP=10.240.0.10\n" {
		t.Errorf("machine.env = %q", env)
	}

	// Again: nothing changes, nothing is said.
	out, err = provision(t, root, "provision-hosts.sh", args...)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("second run: err=%v, said %q (want silence)", err, out)
	}
	if again := readFile(t, hosts); again != got {
		t.Errorf("second run changed /etc/hosts:\n%s\nwas:\n%s", again, got)
	}

	// A topology change replaces the block instead of adding a second one.
	five := append(three, "10.240.0.11 controller-1", "10.240.0.12 controller-2")
	if out, err := provision(t, root, "provision-hosts.sh", append(args[:3:3], five...)...); err != nil {
		t.Fatalf("provision-hosts.sh with five machines: %v\n%s", err, out)
	}
	got = readFile(t, hosts)
	if n := strings.Count(got, "# BEGIN kubelab machines"); n != 1 {
		t.Errorf("%d kubelab blocks in /etc/hosts:\n%s", n, got)
	}
	if !strings.Contains(got, "10.240.0.12 controller-2\n") {
		t.Errorf("new machine missing:\n%s", got)
	}

	// Bad input is refused before anything is written.
	for _, bad := range [][]string{
		{"controller-0", "master", "10.240.0.10", "10.240.0.10 controller-0"},
		{"Controller_0", "controller", "10.240.0.10", "10.240.0.10 controller-0"},
		{"controller-0", "controller", "10.240.0.10", "10.240.0.10 controller-0; rm -rf /"},
		{"controller-0", "controller"},
	} {
		out, err := provision(t, root, "provision-hosts.sh", bad...)
		if err == nil || !strings.Contains(out, "provision-hosts: error:") {
			t.Errorf("%q: want a clear error, got err=%v %q", bad, err, out)
		}
		if readFile(t, hosts) != got {
			t.Errorf("%q: /etc/hosts changed although the input was refused", bad)
		}
	}
}

func TestProvisionBinaries(t *testing.T) {
	root := t.TempDir()
	src := t.TempDir()
	write := func(name, body string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	// Stand-ins for the components: one with --version, one with only --help.
	write("kubelet", "#!/bin/sh\n[ \"$1\" = --version ] && echo 'Kubernetes v1.37.2-kubelab+test'\n", 0o755)
	write("kubelab-monitor", "#!/bin/sh\n[ \"$1\" = --help ] && exit 0\nexit 2\n", 0o755)
	write("kubelet.test", "#!/bin/sh\nexit 1\n", 0o755) // test binaries stay behind
	write("README", "not a program\n", 0o644)
	if err := os.MkdirAll(filepath.Join(root, "usr", "local", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	installed := func(name string) bool {
		_, err := os.Stat(filepath.Join(root, "usr", "local", "bin", name))
		return err == nil
	}

	out, err := provision(t, root, "provision-binaries.sh", src)
	if err != nil {
		t.Fatalf("provision-binaries.sh: %v\n%s", err, out)
	}
	if !installed("kubelet") || !installed("kubelab-monitor") || installed("kubelet.test") || installed("README") {
		t.Errorf("wrong set installed; output:\n%s", out)
	}
	if !strings.Contains(out, "installed in") || !strings.Contains(out, "ready: 2 binaries") {
		t.Errorf("output does not say what it did:\n%s", out)
	}

	// Unchanged binaries are left alone, and it says only that all is ready.
	out, err = provision(t, root, "provision-binaries.sh", src)
	if err != nil || strings.Contains(out, "installed in") {
		t.Errorf("second run: err=%v, output:\n%s", err, out)
	}

	// A binary that cannot run is reported by name.
	write("kube-proxy", "#!/bin/sh\necho 'version GLIBC_2.38 not found' >&2\nexit 1\n", 0o755)
	out, err = provision(t, root, "provision-binaries.sh", src)
	if err == nil || !strings.Contains(out, "kube-proxy needs a newer C library") || !strings.Contains(out, "make vm-binaries") {
		t.Errorf("broken binary: want a clear error, got err=%v:\n%s", err, out)
	}

	// No binaries at all: say how to get them.
	empty := t.TempDir()
	out, err = provision(t, root, "provision-binaries.sh", empty)
	if err == nil || !strings.Contains(out, "no binaries in") || !strings.Contains(out, "vagrant rsync") {
		t.Errorf("empty directory: want a clear error, got err=%v:\n%s", err, out)
	}
}

// TestShellcheck keeps every script in vagrant/ shellcheck-clean.
func TestShellcheck(t *testing.T) {
	need(t, "shellcheck")
	scripts, err := filepath.Glob(filepath.Join(repoRoot(t), "vagrant", "*.sh"))
	testScripts, _ := filepath.Glob(filepath.Join(repoRoot(t), "vagrant", "testdata", "*.sh"))
	scripts = append(scripts, testScripts...)
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts found: %v", err)
	}
	if out, err := exec.Command("shellcheck", append([]string{"-x"}, scripts...)...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}
