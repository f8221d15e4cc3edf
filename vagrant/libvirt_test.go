package vagrant

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sandbox is a network namespace with its own libvirtd: every bridge, tap and
// VM address libvirt makes lives in the namespace, so nothing the end-to-end
// test starts can send a packet anywhere else, and deleting the namespace takes
// all of it away.
type sandbox struct {
	ns   string
	logs string // directory for command logs
}

// startSandbox creates the namespace and starts virtlogd and libvirtd in it;
// t.Cleanup stops them and deletes the namespace.
func startSandbox(t *testing.T, logs string) *sandbox {
	t.Helper()
	s := &sandbox{ns: fmt.Sprintf("klvagrant%d", os.Getpid()%100000), logs: logs}
	run(t, "", nil, "ip", "netns", "add", s.ns)
	t.Cleanup(s.remove)
	run(t, "", nil, "ip", "-n", s.ns, "link", "set", "lo", "up")
	for _, daemon := range []string{"virtlogd", "libvirtd"} {
		run(t, "", nil, "ip", "netns", "exec", s.ns, daemon, "-d")
	}
	t.Cleanup(s.stopDaemons)
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := exec.Command("virsh", "-c", "qemu:///system", "version").CombinedOutput()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("libvirtd did not answer within 60 s: %v\n%s", err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	return s
}

// stopDaemons stops libvirtd and virtlogd (by the PIDs they record) and waits.
func (s *sandbox) stopDaemons() {
	for _, pidfile := range []string{"/run/libvirtd.pid", "/run/virtlogd.pid"} {
		b, err := os.ReadFile(pidfile)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// remove kills whatever still runs in the namespace (dnsmasq, a stray qemu)
// and deletes it.
func (s *sandbox) remove() {
	out, _ := exec.Command("ip", "netns", "pids", s.ns).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	time.Sleep(200 * time.Millisecond)
	_ = exec.Command("ip", "netns", "del", s.ns).Run()
}

// vagrant runs a vagrant command inside the namespace, logging its output to
// logs/<name>.log (and to stderr with go test -v, so a long `up` shows progress).
func (s *sandbox) vagrant(t *testing.T, env []string, logName string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", s.ns, "vagrant"}, args...)...)
	cmd.Dir = repoRoot(t)
	cmd.Env = env
	f, err := os.OpenFile(filepath.Join(s.logs, logName+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	w := io.MultiWriter(&buf, f)
	if testing.Verbose() {
		w = io.MultiWriter(w, os.Stderr)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Run()
	return buf.String(), err
}

// leftovers lists the libvirt domains and networks that still exist (other than
// the "default" network Debian's libvirt package defines).
func leftovers() (domains, networks []string) {
	out, _ := exec.Command("virsh", "-c", "qemu:///system", "list", "--all", "--name").Output()
	domains = strings.Fields(string(out))
	out, _ = exec.Command("virsh", "-c", "qemu:///system", "net-list", "--all", "--name").Output()
	for _, n := range strings.Fields(string(out)) {
		if n != "default" {
			networks = append(networks, n)
		}
	}
	return domains, networks
}

// forceClean removes what a failed run left in libvirt: domains, the networks
// Vagrant made, and the volumes in the default pool made from the kit's box (a
// rebuilt box would otherwise be shadowed by its stale upload).
func forceClean() {
	virsh := func(args ...string) {
		_ = exec.Command("virsh", append([]string{"-c", "qemu:///system"}, args...)...).Run()
	}
	domains, networks := leftovers()
	for _, d := range domains {
		virsh("destroy", d)
		virsh("undefine", d, "--remove-all-storage")
	}
	for _, n := range networks {
		virsh("net-destroy", n)
		virsh("net-undefine", n)
	}
	out, _ := exec.Command("virsh", "-c", "qemu:///system", "vol-list", "--pool", "default").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "kubelab-VAGRANTSLASH-debian12") {
			virsh("vol-delete", "--pool", "default", f[0])
		}
	}
}

// run runs a command on the host (outside the namespace) and fails the test if it fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
