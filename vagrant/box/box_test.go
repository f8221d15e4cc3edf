package box

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const (
	testUUID = "7e3aeba6-dc6e-4e09-994b-12ce84e4fadc"
	testKver = "6.1.0-50-amd64"
)

// result is what one run of a shell function or script gave.
type result struct {
	stdout, stderr string
	code           int
}

// run runs name with args in this directory (the package directory under
// go test) with a plain environment, and returns its output and exit code.
func run(t *testing.T, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "HOME=" + t.TempDir()}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", name, err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// lib sources lib.sh in a fresh bash and calls fn with args. The arguments
// go through "$@", so no quoting happens in Go.
func lib(t *testing.T, fn string, args ...string) result {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not on PATH")
	}
	return run(t, "bash", append([]string{"-c", `source ./lib.sh && "$@"`, "bash", fn}, args...)...)
}

// mustLib is lib for calls that must succeed.
func mustLib(t *testing.T, fn string, args ...string) string {
	t.Helper()
	r := lib(t, fn, args...)
	if r.code != 0 {
		t.Fatalf("%s %q: exit %d, stderr %q", fn, args, r.code, r.stderr)
	}
	return r.stdout
}

// wantError checks a failed call: exit 1, nothing on stdout and a
// "build.sh: error:" line on stderr that contains want.
func wantError(t *testing.T, r result, want string) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("exit code %d, want 1 (stdout %q)", r.code, r.stdout)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
	if !strings.HasPrefix(r.stderr, "build.sh: error: ") || !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q, want a build.sh: error: line containing %q", r.stderr, want)
	}
}

func TestMetadata(t *testing.T) {
	for _, size := range []string{"8", "20"} {
		var m struct {
			Provider    string `json:"provider"`
			Format      string `json:"format"`
			VirtualSize int    `json:"virtual_size"`
		}
		out := mustLib(t, "box_metadata", size)
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("box_metadata %s: %q is not JSON: %v", size, out, err)
		}
		if m.Provider != "libvirt" || m.Format != "qcow2" || strconv.Itoa(m.VirtualSize) != size {
			t.Errorf("box_metadata %s = %q", size, out)
		}
	}
	if got := mustLib(t, "box_metadata", "8"); got != `{"provider":"libvirt","format":"qcow2","virtual_size":8}`+"\n" {
		t.Errorf("box_metadata 8 = %q", got)
	}
	wantError(t, lib(t, "box_metadata", "big"), "--size")
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"8", "8"}, {"8G", "8"}, {"8GB", "8"}, {"8GiB", "8"}, {"010", "10"}, {"4", "4"}, {"2048", "2048"},
	} {
		if got := strings.TrimSpace(mustLib(t, "box_parse_size", tc.in)); got != tc.want {
			t.Errorf("box_parse_size %q = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "whole number of GiB"},
		{"abc", "whole number of GiB"},
		{"8.5", "whole number of GiB"},
		{"-1", "whole number of GiB"},
		{"8M", "whole number of GiB"},
		{"3", "between 4 and 2048"},
		{"9999", "between 4 and 2048"},
	} {
		t.Run(tc.in, func(t *testing.T) { wantError(t, lib(t, "box_parse_size", tc.in), tc.want) })
	}
}

func TestGrubCfg(t *testing.T) {
	cfg := mustLib(t, "box_grub_cfg", testUUID, testKver)
	for _, want := range []string{
		"root=UUID=" + testUUID,
		"search --no-floppy --fs-uuid --set=root " + testUUID,
		"console=tty0 console=ttyS0,115200n8", // ttyS0 last: it gets /dev/console
		"net.ifnames=0", "biosdevname=0",
		"linux /boot/vmlinuz-" + testKver + " ",
		"initrd /boot/initrd.img-" + testKver + "\n",
		"serial --unit=0 --speed=115200",
		"menuentry ",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("grub.cfg lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Count(cfg, "{") != strings.Count(cfg, "}") {
		t.Errorf("grub.cfg has unbalanced braces:\n%s", cfg)
	}
	wantError(t, lib(t, "box_grub_cfg", "not-a-uuid", testKver), "not a file system UUID")
	wantError(t, lib(t, "box_grub_cfg", testUUID, ""), "not a kernel version")
	wantError(t, lib(t, "box_grub_cfg", testUUID, "6.1; rm -rf /"), "not a kernel version")
}

func TestGrubLoadCfgAndDefault(t *testing.T) {
	load := mustLib(t, "box_grub_load_cfg", testUUID)
	if load != "search.fs_uuid "+testUUID+" root\nset prefix=($root)/boot/grub\n" {
		t.Errorf("load.cfg = %q", load)
	}
	def := mustLib(t, "box_grub_default", testUUID)
	if !strings.Contains(def, `GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8 net.ifnames=0 biosdevname=0"`) {
		t.Errorf("/etc/default/grub lacks the kernel arguments:\n%s", def)
	}
	if strings.Contains(def, "root=") {
		t.Errorf("/etc/default/grub must leave root= to update-grub:\n%s", def)
	}
	wantError(t, lib(t, "box_grub_load_cfg", "x"), "UUID")
	wantError(t, lib(t, "box_grub_default", ""), "UUID")
}

func TestFstab(t *testing.T) {
	out := mustLib(t, "box_fstab", testUUID)
	if !regexp.MustCompile(`(?m)^UUID=` + testUUID + ` / ext4 \S+ 0 1$`).MatchString(out) {
		t.Errorf("fstab has no root line:\n%s", out)
	}
	wantError(t, lib(t, "box_fstab", "/dev/vda1"), "not a file system UUID")
}

func TestFixedFiles(t *testing.T) {
	for _, tc := range []struct {
		fn   string
		args []string
		want []string
	}{
		{"box_interfaces", nil, []string{
			"source /etc/network/interfaces.d/*\n", "auto lo\n", "iface lo inet loopback\n",
			"allow-hotplug eth0\n", "iface eth0 inet dhcp\n",
		}},
		{"box_initramfs_conf", nil, []string{"FSTYPE=ext4\n", "RESUME=none\n"}},
		{"box_sudoers", nil, []string{"vagrant ALL=(ALL) NOPASSWD:ALL\n"}},
		{"box_sshd_config", nil, []string{"UseDNS no\n"}},
		{"box_sources_list", []string{"bookworm"}, []string{
			"deb http://deb.debian.org/debian bookworm main\n",
			"deb http://deb.debian.org/debian bookworm-updates main\n",
			"deb http://deb.debian.org/debian-security bookworm-security main\n",
		}},
		{"box_hosts", []string{"kubelab"}, []string{"127.0.0.1\tlocalhost\n", "127.0.1.1\tkubelab\n"}},
		{"box_vagrantfile", nil, []string{`Vagrant.configure("2")`, `libvirt.disk_bus = "virtio"`}},
		{"box_ssh_keygen_unit", nil, []string{"Before=ssh.service", "ExecStart=/usr/bin/ssh-keygen -A", "WantedBy=multi-user.target"}},
		{"box_dpkg_excludes", nil, []string{"path-exclude=/usr/share/doc/*\n", "path-include=/usr/share/doc/*/copyright\n"}},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			out := mustLib(t, tc.fn, tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("%s lacks %q:\n%s", tc.fn, w, out)
				}
			}
		})
	}
	wantError(t, lib(t, "box_sources_list", "Bookworm 12"), "suite")
	wantError(t, lib(t, "box_hosts", "-bad"), "host name")
}

func TestPackages(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.txt", "# a comment line\n\nnftables   # inline comment\n  jq\njq\nsocat\t\n# last\nzstd") // no final newline
	out := strings.TrimSpace(mustLib(t, "box_packages", good))
	if strings.ContainsAny(out, "# \t\n") {
		t.Fatalf("box_packages = %q: comments or blanks left", out)
	}
	pkgs := strings.Split(out, ",")
	seen := map[string]int{}
	for i, p := range pkgs {
		seen[p]++
		if i > 0 && pkgs[i-1] >= p {
			t.Errorf("box_packages not sorted and unique at %q, %q", pkgs[i-1], p)
		}
	}
	for _, want := range []string{"nftables", "jq", "socat", "zstd", "linux-image-amd64", "openssh-server", "grub-pc", "sudo", "ifupdown"} {
		if seen[want] != 1 {
			t.Errorf("box_packages lacks %q: %q", want, out)
		}
	}

	// The package list in the repository must parse too.
	repo := strings.TrimSpace(mustLib(t, "box_packages", "../packages.txt"))
	for _, want := range []string{"nftables", "rsync", "systemd-sysv"} {
		if !strings.Contains(","+repo+",", ","+want+",") {
			t.Errorf("box_packages ../packages.txt lacks %q: %q", want, repo)
		}
	}

	wantError(t, lib(t, "box_packages", filepath.Join(dir, "missing.txt")), "cannot read package list")
	wantError(t, lib(t, "box_packages", write("bad.txt", "jq\nNot_A_Package\n")), `"Not_A_Package"`)
	wantError(t, lib(t, "box_packages", write("inject.txt", "jq;reboot\n")), "not a Debian package name")
}

func TestChecks(t *testing.T) {
	for _, tc := range []struct {
		fn, in, want, err string
	}{
		{"box_check_mirror", "http://deb.debian.org/debian/", "http://deb.debian.org/debian", ""},
		{"box_check_mirror", "https://mirror.example/debian", "https://mirror.example/debian", ""},
		{"box_check_mirror", "file:///srv/mirror", "file:///srv/mirror", ""},
		{"box_check_mirror", "ftp://deb.debian.org/debian", "", "--mirror must be"},
		{"box_check_mirror", "deb.debian.org", "", "--mirror must be"},
		{"box_check_name", "kubelab/debian12", "kubelab/debian12", ""},
		{"box_check_name", "", "", "--add needs a box name"},
		{"box_check_name", "--force", "", "--add needs a box name"},
		{"box_check_name", "my box", "", "--add needs a box name"},
		{"box_tool_package", "qemu-img", "qemu-utils", ""},
		{"box_tool_package", "sfdisk", "fdisk", ""},
		{"box_tool_package", "mkfs.ext4", "e2fsprogs", ""},
		{"box_tool_package", "losetup", "mount", ""},
		{"box_tool_package", "debootstrap", "debootstrap", ""},
		{"box_tool_package", "frobnicate", "", "no known package"},
	} {
		t.Run(tc.fn+"/"+tc.in, func(t *testing.T) {
			r := lib(t, tc.fn, tc.in)
			if tc.err != "" {
				wantError(t, r, tc.err)
				return
			}
			if r.code != 0 || strings.TrimSpace(r.stdout) != tc.want {
				t.Errorf("%s %q = %q (exit %d, stderr %q), want %q", tc.fn, tc.in, r.stdout, r.code, r.stderr, tc.want)
			}
		})
	}
}

func TestCacheName(t *testing.T) {
	a := mustLib(t, "box_cache_name", "bookworm", "http://deb.debian.org/debian", "jq,sudo")
	b := mustLib(t, "box_cache_name", "bookworm", "http://deb.debian.org/debian", "jq,sudo")
	c := mustLib(t, "box_cache_name", "bookworm", "http://deb.debian.org/debian", "jq,sudo,socat")
	if !regexp.MustCompile(`^bookworm-[0-9a-f]{12}\.tar\n$`).MatchString(a) {
		t.Errorf("box_cache_name = %q", a)
	}
	if a != b || a == c {
		t.Errorf("box_cache_name not keyed by its input: %q %q %q", a, b, c)
	}
}

// TestBuildArguments runs build.sh itself with arguments it must refuse
// before doing anything. As a safety net, every run names an --output that
// already exists and never passes --force, so even a build.sh that wrongly
// accepted its arguments would stop at "box already built" instead of
// starting a build when the tests run as root.
func TestBuildArguments(t *testing.T) {
	existing := filepath.Join(t.TempDir(), "existing.box")
	if err := os.WriteFile(existing, []byte("not a box"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown", []string{"--bogus"}, `unknown argument "--bogus"`},
		{"size", []string{"--size", "huge"}, "--size must be a whole number"},
		{"small", []string{"--size", "1"}, "--size must be between"},
		{"no value", []string{"--size"}, "--size needs a value"},
		{"mirror", []string{"--mirror", "ftp://x/debian"}, "--mirror must be"},
		{"add", []string{"--add", "bad name"}, "--add needs a box name"},
		{"output dir", []string{"--output", "/tmp/"}, "--output must name a file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, "./build.sh", append([]string{"--output", existing}, tc.args...)...)
			if r.code != 1 || !strings.Contains(r.stderr, "build.sh: error: "+tc.want) {
				t.Errorf("build.sh %q: exit %d, stderr %q; want exit 1 and %q", tc.args, r.code, r.stderr, tc.want)
			}
		})
	}

	r := run(t, "./build.sh", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "Usage: vagrant/box/build.sh") || !strings.Contains(r.stdout, "--add NAME") {
		t.Errorf("build.sh --help: exit %d, stdout %q", r.code, r.stdout)
	}

	if os.Geteuid() == 0 {
		t.Log("running as root: skipping the must-be-root check")
		return
	}
	r = run(t, "./build.sh", "--output", existing)
	if r.code != 1 || !strings.Contains(r.stderr, "build.sh: error: must run as root") {
		t.Errorf("build.sh as a user: exit %d, stderr %q; want the must-run-as-root error", r.code, r.stderr)
	}
}

func TestShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck not on PATH; install it (apt-get install shellcheck) to lint build.sh and lib.sh")
	}
	r := run(t, "shellcheck", "-x", "build.sh", "lib.sh", "boot-test.sh")
	if r.code != 0 {
		t.Errorf("shellcheck -x build.sh lib.sh boot-test.sh:\n%s%s", r.stdout, r.stderr)
	}
}

// TestScriptStyle checks the house rules shellcheck does not: strict mode
// and tab indentation (heredoc bodies, which are file contents, excepted).
func TestScriptStyle(t *testing.T) {
	for _, name := range []string{"build.sh", "lib.sh", "boot-test.sh"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		if name != "lib.sh" && !strings.Contains(text, "\nset -euo pipefail\n") {
			t.Errorf("%s lacks set -euo pipefail", name)
		}
		heredocEnd := ""
		for i, line := range strings.Split(text, "\n") {
			if heredocEnd != "" {
				if strings.TrimLeft(line, "\t") == heredocEnd {
					heredocEnd = ""
				}
				continue
			}
			if m := regexp.MustCompile(`<<-?'?(\w+)'?`).FindStringSubmatch(line); m != nil {
				heredocEnd = m[1]
			}
			if strings.HasPrefix(line, " ") {
				t.Errorf("%s:%d is indented with spaces: %q", name, i+1, line)
			}
		}
	}
}
