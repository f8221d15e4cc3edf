package builtin

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestWriteArchive(t *testing.T) {
	bb := needBusybox(t)
	images, err := All(Options{BusyboxPath: bb, TestServerBinary: bb})
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "images.tar")
	if err := WriteArchive(archive, images); err != nil {
		t.Fatal(err)
	}
	// docker save format: manifest.json names both images by tag.
	var manifest []struct{ RepoTags []string }
	if err := json.Unmarshal(readTarFile(t, archive, "manifest.json"), &manifest); err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, m := range manifest {
		tags = append(tags, m.RepoTags...)
	}
	slices.Sort(tags)
	if want := []string{BusyboxRef, TestServerRef}; !slices.Equal(tags, want) {
		t.Errorf("RepoTags %q, want %q", tags, want)
	}
	// Reading each image back gives the image we wrote.
	for ref, img := range images {
		tag, err := name.NewTag(ref)
		if err != nil {
			t.Fatal(err)
		}
		back, err := tarball.ImageFromPath(archive, &tag)
		if err != nil {
			t.Fatalf("read %s back: %v", ref, err)
		}
		want, _ := img.ConfigName()
		got, err := back.ConfigName()
		if err != nil || got != want {
			t.Errorf("%s: image id %s (%v), want %s", ref, got, err, want)
		}
	}
	if err := WriteArchive(archive, map[string]v1.Image{"Not A Ref!": images[BusyboxRef]}); err == nil {
		t.Error("a bad reference must be an error")
	}
}

func readTarFile(t *testing.T, archive, file string) []byte {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in %s: %v", file, archive, err)
		}
		if h.Name == file {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

// repoRoot walks up from the test's directory to the module root.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/kubelab/kubelab\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("not inside the kubelab source tree")
		}
		dir = parent
	}
}

// The real thing: build cmd/testserver the way the kit does, check the
// binary behaves (help, exit codes, SIGTERM), and put it in the image.
func TestBuildTestServerBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/testserver with the go command (-short)")
	}
	bb := needBusybox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "testserver")
	if err := BuildTestServerBinary(ctx, repoRoot(t), bin); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		args     []string
		sigterm  bool
		wantCode int
		wantOut  string // in stdout+stderr
	}{
		{args: []string{"--help"}, wantCode: 0, wantOut: "serve-hostname"},
		{args: []string{"crash", "--after=0s", "--code=3"}, wantCode: 3, wantOut: "exiting with code 3"},
		{args: []string{"bogus"}, wantCode: 2, wantOut: `unknown subcommand "bogus"`},
		{args: []string{"logs-generator", "--lines=2", "--period=1ms"}, wantCode: 0, wantOut: "line 1\nline 2\n"},
		{args: []string{"pause"}, sigterm: true, wantCode: 0, wantOut: "Shutting down, got signal (got signal terminated)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out lockedBuffer
			cmd := exec.CommandContext(ctx, bin, tt.args...)
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if tt.sigterm {
				// "Paused" is printed once the handler is in place; a TERM
				// before that would kill it by the default action.
				for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), "Paused"); {
					if time.Now().After(deadline) {
						t.Fatalf("pause never said Paused: %q", out.String())
					}
					time.Sleep(20 * time.Millisecond)
				}
				_ = cmd.Process.Signal(syscall.SIGTERM)
			}
			err := cmd.Wait()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("exit %d, output %q; want %d and %q", code, out.String(), tt.wantCode, tt.wantOut)
			}
		})
	}

	images, err := All(Options{BusyboxPath: bb, TestServerBinary: bin})
	if err != nil {
		t.Fatal(err)
	}
	runInRootfs(t, images[TestServerRef])
	for ref, img := range images {
		var compressed, uncompressed int64
		ls, _ := img.Layers()
		for _, l := range ls {
			c, _ := l.Size()
			compressed += c
			rc, err := l.Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, rc)
			rc.Close()
			uncompressed += n
		}
		t.Logf("%s: %d layers, %.1f MiB compressed, %.1f MiB unpacked", ref, len(ls), float64(compressed)/(1<<20), float64(uncompressed)/(1<<20))
	}
}

// runInRootfs unpacks img and runs a few commands chrooted into it: the
// links resolve, the shell works, and the static testserver starts with no
// libc around.
func runInRootfs(t *testing.T, img v1.Image) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Log("not root: skipping the chroot check")
		return
	}
	root := t.TempDir()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(dst, h.FileInfo().Mode().Perm())
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, dst)
		case tar.TypeReg:
			var b []byte
			if b, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(dst, b, h.FileInfo().Mode().Perm())
			}
		}
		if err != nil {
			t.Fatalf("unpack %s: %v", h.Name, err)
		}
	}
	for _, script := range []string{
		"echo hello from sh",
		"test -x /usr/bin/wget && test -x /sbin/ifconfig && echo links ok",
		"grep -c nobody /etc/passwd",
		"/testserver crash --after=0s --code=0 2>&1",
	} {
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
		cmd.Dir = "/"
		cmd.Env = []string{defaultPath}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("chroot %s sh -c %q: %v\n%s", root, script, err, out)
		}
	}
}

// lockedBuffer is a bytes.Buffer a process writes to while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
