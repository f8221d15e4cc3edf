package builtin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestServerRef is the test server image's name.
const TestServerRef = "localhost/kubelab/testserver:v1"

// ErrTestServerNotFound is wrapped by FindTestServerBinary when there is no
// binary anywhere it looks; callers with a source tree can build one.
var ErrTestServerNotFound = errors.New("no testserver binary found")

// buildHint is the one place that says how to make the binary.
const buildHint = `build it with "make bin/testserver", or in the kubelab source tree: ` +
	`CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/testserver ./cmd/testserver`

// TestServer builds localhost/kubelab/testserver:v1: the busybox layer (so
// `kubectl exec ... -- sh` works) plus the static testserver binary at
// /testserver. Entrypoint /testserver, default command serve-hostname: a pod
// without args answers its hostname over HTTP on port 9376, which is what a
// Service demo wants; pods pick other personalities with args, e.g.
// ["netexec"] or ["pause"].
func TestServer(busyboxPath, testserverBinary string) (v1.Image, error) {
	base, arch, err := busyboxLayer(busyboxPath)
	if err != nil {
		return nil, err
	}
	return testServerImage(base, arch, testserverBinary)
}

func testServerImage(base mutate.Addendum, arch, testserverBinary string) (v1.Image, error) {
	tsArch, err := staticELF(testserverBinary)
	if err != nil {
		return nil, fmt.Errorf("testserver: %w; %s", err, buildHint)
	}
	if tsArch != arch {
		return nil, fmt.Errorf("testserver %s is %s but busybox is %s: build both for the nodes' architecture", testserverBinary, tsArch, arch)
	}
	bin, err := os.ReadFile(testserverBinary)
	if err != nil {
		return nil, fmt.Errorf("read testserver %s: %w", testserverBinary, err)
	}
	t := tree{}
	t.file("testserver", 0o755, bin)
	l, err := t.layer()
	if err != nil {
		return nil, fmt.Errorf("testserver layer: %w", err)
	}
	top := mutate.Addendum{Layer: l, History: v1.History{
		Created:   v1.Time{Time: epoch},
		CreatedBy: "kubelab builtin: /testserver (static Go binary from cmd/testserver)",
	}}
	cfg := v1.Config{
		Entrypoint: []string{"/testserver"},
		Cmd:        []string{"serve-hostname"},
		Env:        []string{defaultPath},
		// Documentation only (Kubernetes ignores EXPOSE): the default ports
		// of serve-hostname and netexec.
		ExposedPorts: map[string]struct{}{"9376/tcp": {}, "8080/tcp": {}, "8081/udp": {}},
	}
	return assemble(arch, cfg, base, top)
}

// FindTestServerBinary finds the static testserver the kit puts in its
// images: $KUBELAB_TESTSERVER, then "testserver" next to the running binary
// (bin/kubelab finds bin/testserver), then PATH.
func FindTestServerBinary() (string, error) {
	if p := os.Getenv("KUBELAB_TESTSERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("$KUBELAB_TESTSERVER: %w", err)
		}
		return p, nil
	}
	looked := "$KUBELAB_TESTSERVER, "
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "testserver")
		if st, err := os.Stat(p); err == nil && !st.IsDir() && p != exe {
			return p, nil
		}
		looked += p + ", "
	}
	if p, err := exec.LookPath("testserver"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w (looked at %sPATH): %s", ErrTestServerNotFound, looked, buildHint)
}

// BuildTestServerBinary compiles ./cmd/testserver in repoDir into out:
// CGO_ENABLED=0 for a static binary (the image has no libc), -trimpath and
// -ldflags='-s -w' so the result is small and the same on every machine.
func BuildTestServerBinary(ctx context.Context, repoDir, out string) error {
	goBin, err := findGo()
	if err != nil {
		return err
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("output path %s: %w", out, err)
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", absOut, "./cmd/testserver")
	cmd.Dir = repoDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // the last value wins
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build testserver in %s: %w\n%s", repoDir, err, b)
	}
	if _, err := staticELF(absOut); err != nil {
		return fmt.Errorf("built testserver: %w", err)
	}
	return nil
}

// findGo finds a go command the way the Makefile does: PATH first, then
// the usual install location.
func findGo() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	const fallback = "/usr/local/go/bin/go"
	if _, err := os.Stat(fallback); err == nil {
		return fallback, nil
	}
	return "", errors.New("no go command found on PATH or at /usr/local/go/bin/go: install Go (hack/install-deps.sh)")
}
