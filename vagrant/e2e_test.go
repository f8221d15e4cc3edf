package vagrant

import (
	_ "embed"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// checkScript runs on every VM and prints "ok  …" or "FAIL …" per check.
//
//go:embed testdata/check-machine.sh
var checkScript string

const kitBox = "kubelab/debian12"

// TestVagrantE2E boots the default topology (controller-0, worker-0, worker-1)
// for real: the kit's offline box (built if missing), static binaries from
// `make vm-binaries`, `vagrant up` with the libvirt provider and the qemu driver
// (software emulation: no KVM needed), all inside a network namespace of its
// own. It checks every machine (hostname, /etc/hosts, the private network to
// every other machine, kernel prerequisites, packages, the installed binaries),
// re-provisions to prove the scripts are idempotent, and destroys everything.
//
// It runs only with KUBELAB_VAGRANT_E2E=1 (make vagrant-e2e), as root, and
// fails if a tool is missing (hack/install-deps.sh --vagrant installs them). It
// is not part of `make test`: on 2 cores it takes ~10 minutes with the box and
// binaries at hand (vagrant up alone ~7.5 min: three software-emulated VMs
// booting and receiving ~350 MB of binaries each), ~20 from nothing.
// KUBELAB_E2E_BIN=DIR uses binaries built already instead of make vm-binaries.
func TestVagrantE2E(t *testing.T) {
	if os.Getenv("KUBELAB_VAGRANT_E2E") != "1" {
		t.Skip("boots three real VMs (~10 minutes): run it with make vagrant-e2e (KUBELAB_VAGRANT_E2E=1)")
	}
	missing := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("KUBELAB_VAGRANT_E2E=1 but "+format, args...)
	}
	if os.Geteuid() != 0 {
		missing("libvirt, network namespaces and the box builder need root")
	}
	for _, c := range []string{"vagrant", "libvirtd", "virtlogd", "virsh", "qemu-system-x86_64", "qemu-img", "debootstrap", "ip", "make"} {
		if _, err := exec.LookPath(c); err != nil {
			missing("%s is not installed (hack/install-deps.sh --vagrant installs what this test needs)", c)
		}
	}
	if out, err := exec.Command("pgrep", "-x", "libvirtd").Output(); err == nil {
		missing("a libvirtd is already running (pid %s): this test starts its own, inside a network namespace; stop it first", strings.TrimSpace(string(out)))
	}

	work := t.TempDir()
	var timings []string
	phase := func(name string, f func()) {
		t.Helper()
		start := time.Now()
		f()
		timings = append(timings, fmt.Sprintf("%-12s %6.1f s", name, time.Since(start).Seconds()))
	}
	defer func() { t.Logf("timings:\n  %s\n  logs: %s", strings.Join(timings, "\n  "), work) }()

	phase("box", func() { ensureBox(t) })

	bin := os.Getenv("KUBELAB_E2E_BIN")
	if bin == "" {
		bin = filepath.Join(work, "bin")
		phase("binaries", func() { run(t, repoRoot(t), nil, "make", "vm-binaries", "VM_BIN="+bin) })
	}

	var sb *sandbox
	phase("libvirt", func() { sb = startSandbox(t, work) })
	// Registered after the sandbox's cleanups, so it runs before them (while
	// libvirtd is still up): a failed run must not leave VMs or networks behind.
	t.Cleanup(forceClean)

	machines, _, err := topology(t, nil)
	if err != nil || len(machines) != 3 {
		t.Fatalf("default topology: %v %v", machines, err)
	}
	env := append(os.Environ(),
		"VAGRANT_DOTFILE_PATH="+filepath.Join(work, ".vagrant"), "VAGRANT_CHECKPOINT_DISABLE=1", "VAGRANT_NO_COLOR=1",
		"KUBELAB_LIBVIRT_DRIVER=qemu", "KUBELAB_BOX="+kitBox, "KUBELAB_BIN="+bin,
		// One vCPU each: three software-emulated CPUs already share two cores.
		"KUBELAB_MEMORY=1024", "KUBELAB_CPUS=1")
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			_, _ = sb.vagrant(t, env, "destroy", "destroy", "-f")
		}
	})

	phase("vagrant up", func() {
		if out, err := sb.vagrant(t, env, "up", "up", "--provider=libvirt"); err != nil {
			t.Fatalf("vagrant up: %v\n%s", err, tail(out, 60))
		}
	})

	phase("checks", func() {
		var hosts []string
		for _, m := range machines {
			hosts = append(hosts, m.IP+" "+m.Name)
		}
		script := base64.StdEncoding.EncodeToString([]byte(checkScript))
		for _, m := range machines {
			remote := fmt.Sprintf("echo %s | base64 -d | sudo bash -s -- %s %s %s '%s'",
				script, m.Name, m.Role, m.IP, strings.Join(hosts, "' '"))
			out, err := sb.vagrant(t, env, "checks", "ssh", m.Name, "-c", remote)
			t.Logf("%s:\n%s", m.Name, out)
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "FAIL") {
					t.Errorf("%s: %s", m.Name, line)
				}
			}
			if err != nil && !t.Failed() {
				t.Errorf("%s: checks did not run: %v", m.Name, err)
			}
		}
	})

	phase("provision", func() {
		// Again on running machines: every script must find everything in place.
		out, err := sb.vagrant(t, env, "provision", "provision")
		if err != nil {
			t.Fatalf("vagrant provision: %v\n%s", err, tail(out, 40))
		}
		for _, changed := range []string{"provision-base: wrote", "provision-base: installing", "provision-base: set ",
			"provision-binaries: installed", "provision-hosts: /etc/"} {
			if strings.Contains(out, changed) {
				t.Errorf("a second provisioning changed something (%q): the scripts are not idempotent\n%s", changed, out)
			}
		}
		if n := strings.Count(out, "provision-binaries: ready"); n != len(machines) {
			t.Errorf("%d machines said their binaries are ready, want %d", n, len(machines))
		}
	})

	phase("destroy", func() {
		if out, err := sb.vagrant(t, env, "destroy", "destroy", "-f"); err != nil {
			t.Fatalf("vagrant destroy: %v\n%s", err, tail(out, 40))
		}
		destroyed = true
		if domains, networks := leftovers(); len(domains)+len(networks) > 0 {
			t.Errorf("left behind after vagrant destroy: domains %v, networks %v", domains, networks)
		}
	})
}

// ensureBox builds the kit's box and adds it to Vagrant, unless it is there.
func ensureBox(t *testing.T) {
	t.Helper()
	out := run(t, "", nil, "vagrant", "box", "list")
	if strings.Contains(out, kitBox+" (libvirt") {
		t.Logf("box %s already added (vagrant box remove %s to rebuild it)", kitBox, kitBox)
		return
	}
	build := run(t, repoRoot(t), nil, filepath.Join(repoRoot(t), "vagrant", "box", "build.sh"), "--add", kitBox)
	t.Logf("box builder:\n%s", tail(build, 15))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
