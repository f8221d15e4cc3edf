package builtin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// BusyboxRef is the busybox image's name. "localhost/" marks it as built
// here: no registry is ever asked for it.
const BusyboxRef = "localhost/kubelab/busybox:v1"

// defaultPath is Docker's default PATH, the one every base image sets.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// passwd and group hold the two users a test pod needs: root, and nobody
// (65534) for runAsUser / runAsNonRoot exercises.
const (
	passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	group  = "root:x:0:\nnobody:x:65534:\n"
)

// Busybox builds localhost/kubelab/busybox:v1 from a static busybox binary
// (Debian's busybox-static: /usr/bin/busybox). Default command: sh.
func Busybox(busyboxPath string) (v1.Image, error) {
	layer, arch, err := busyboxLayer(busyboxPath)
	if err != nil {
		return nil, err
	}
	return assemble(arch, v1.Config{Cmd: []string{"sh"}, Env: []string{defaultPath}}, layer)
}

// busyboxLayer is the rootfs layer both images share.
func busyboxLayer(busyboxPath string) (mutate.Addendum, string, error) {
	arch, err := staticELF(busyboxPath)
	if err != nil {
		return mutate.Addendum{}, "", fmt.Errorf("busybox: %w (Debian: apt-get install busybox-static)", err)
	}
	bin, err := os.ReadFile(busyboxPath)
	if err != nil {
		return mutate.Addendum{}, "", fmt.Errorf("read busybox %s: %w", busyboxPath, err)
	}
	applets, err := listApplets(busyboxPath)
	if err != nil {
		return mutate.Addendum{}, "", err
	}
	t := tree{}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "etc", "home", "var", "dev", "proc", "sys", "run"} {
		t.dir(d, 0o755)
	}
	t.dir("root", 0o700)
	t.dir("tmp", 0o1777)     // sticky and world-writable, like every /tmp
	t.dir("var/tmp", 0o1777) // some programs prefer it
	t.file("bin/busybox", 0o755, bin)
	for _, a := range applets {
		// Relative links ("busybox", "../../bin/busybox") resolve the same
		// inside the container and in an unpacked rootfs on the host, where
		// an absolute /bin/busybox would point at the host's own.
		rel := strings.Repeat("../", strings.Count(a, "/")) + "bin/busybox"
		if path.Dir(a) == "bin" {
			rel = "busybox"
		}
		t.symlink(a, rel)
	}
	t.file("etc/passwd", 0o644, []byte(passwd))
	t.file("etc/group", 0o644, []byte(group))
	l, err := t.layer()
	if err != nil {
		return mutate.Addendum{}, "", fmt.Errorf("busybox layer: %w", err)
	}
	return mutate.Addendum{Layer: l, History: v1.History{
		Created:   v1.Time{Time: epoch},
		CreatedBy: fmt.Sprintf("kubelab builtin: static busybox and %d applet links, /etc/passwd, /etc/group", len(applets)),
	}}, arch, nil
}

// listApplets asks busybox which applets it has and where they belong
// ("bin/sh", "usr/bin/wget", ...). Running the binary (rather than keeping a
// list) means a newer busybox brings its new applets along.
func listApplets(busyboxPath string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, busyboxPath, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("list applets with %s --list-full: %w", busyboxPath, err)
	}
	var applets []string
	for _, a := range strings.Fields(string(out)) {
		a = strings.TrimPrefix(path.Clean("/"+a), "/")
		// "linuxrc" is the initrd init applet (no directory); bin/busybox is
		// the binary itself and must not become a link to itself.
		if !strings.Contains(a, "/") || a == "bin/busybox" {
			continue
		}
		applets = append(applets, a)
	}
	if len(applets) == 0 {
		return nil, fmt.Errorf("%s --list-full listed no applets", busyboxPath)
	}
	return applets, nil
}

// FindBusybox finds a static busybox: $KUBELAB_BUSYBOX, then /bin/busybox,
// /usr/bin/busybox, then PATH. A dynamic one (Debian's "busybox" package
// rather than "busybox-static") is skipped, with a hint if nothing else fits.
func FindBusybox() (string, error) {
	if p := os.Getenv("KUBELAB_BUSYBOX"); p != "" {
		if _, err := staticELF(p); err != nil {
			return "", fmt.Errorf("$KUBELAB_BUSYBOX: %w", err)
		}
		return p, nil
	}
	candidates := []string{"/bin/busybox", "/usr/bin/busybox"}
	if p, err := exec.LookPath("busybox"); err == nil {
		candidates = append(candidates, p)
	}
	var errs []error
	for _, p := range candidates {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if _, err := staticELF(p); err != nil {
			errs = append(errs, err)
			continue
		}
		return p, nil
	}
	errs = append(errs, errors.New("no static busybox found (looked at $KUBELAB_BUSYBOX, /bin/busybox, /usr/bin/busybox, PATH): apt-get install busybox-static"))
	return "", errors.Join(errs...)
}
