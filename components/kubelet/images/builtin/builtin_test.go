package builtin

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// needBusybox returns the host's static busybox or skips.
func needBusybox(t *testing.T) string {
	t.Helper()
	p, err := FindBusybox()
	if err != nil {
		t.Skipf("no static busybox on this machine (apt-get install busybox-static): %v", err)
	}
	return p
}

// layerFiles reads a layer's tar: headers by name, in order, plus contents.
func layerFiles(t *testing.T, l v1.Layer) (map[string]*tar.Header, []string, map[string][]byte) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	headers := map[string]*tar.Header{}
	data := map[string][]byte{}
	var order []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		headers[name] = h
		order = append(order, name)
		if h.Typeflag == tar.TypeReg && h.Size < 4096 {
			if data[name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	return headers, order, data
}

func layers(t *testing.T, img v1.Image) []v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

func configOf(t *testing.T, img v1.Image) *v1.ConfigFile {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

func TestBusyboxImage(t *testing.T) {
	bb := needBusybox(t)
	img, err := Busybox(bb)
	if err != nil {
		t.Fatal(err)
	}
	ls := layers(t, img)
	if len(ls) != 1 {
		t.Fatalf("%d layers, want 1", len(ls))
	}
	headers, order, data := layerFiles(t, ls[0])
	if !slices.IsSorted(order) {
		t.Error("layer entries are not sorted")
	}
	for name, h := range headers {
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(epoch) {
			t.Errorf("%s: uid %d gid %d mtime %v, want 0 0 epoch", name, h.Uid, h.Gid, h.ModTime)
		}
		if h.Typeflag == tar.TypeSymlink {
			// Every applet link must land on bin/busybox, resolved from its own directory.
			if got := path.Join(path.Dir(name), h.Linkname); got != "bin/busybox" {
				t.Errorf("%s -> %s resolves to %s, want bin/busybox", name, h.Linkname, got)
			}
		}
		if _, ok := headers[path.Dir(name)]; path.Dir(name) != "." && !ok {
			t.Errorf("%s: parent directory missing from the layer", name)
		}
	}
	tests := []struct {
		name string
		typ  byte
		mode int64
		link string
	}{
		{"bin/busybox", tar.TypeReg, 0o755, ""},
		{"bin/sh", tar.TypeSymlink, 0o777, "busybox"},
		{"bin/ls", tar.TypeSymlink, 0o777, "busybox"},
		{"usr/bin/wget", tar.TypeSymlink, 0o777, "../../bin/busybox"},
		{"sbin/ifconfig", tar.TypeSymlink, 0o777, "../bin/busybox"},
		{"tmp", tar.TypeDir, 0o1777, ""},
		{"root", tar.TypeDir, 0o700, ""},
		{"etc/passwd", tar.TypeReg, 0o644, ""},
		{"etc/group", tar.TypeReg, 0o644, ""},
	}
	for _, tt := range tests {
		h, ok := headers[tt.name]
		if !ok {
			t.Errorf("%s missing from the layer", tt.name)
			continue
		}
		if h.Typeflag != tt.typ || h.Mode != tt.mode || h.Linkname != tt.link {
			t.Errorf("%s: type %c mode %o link %q, want %c %o %q", tt.name, h.Typeflag, h.Mode, h.Linkname, tt.typ, tt.mode, tt.link)
		}
	}
	if _, ok := headers["linuxrc"]; ok {
		t.Error("linuxrc should be skipped")
	}
	if !strings.Contains(string(data["etc/passwd"]), "nobody:x:65534:65534:") {
		t.Errorf("etc/passwd = %q, want a nobody user", data["etc/passwd"])
	}

	cf := configOf(t, img)
	if cf.OS != "linux" || cf.Architecture != "amd64" || !cf.Created.Time.Equal(epoch) {
		t.Errorf("config os %s arch %s created %v", cf.OS, cf.Architecture, cf.Created)
	}
	if !slices.Equal(cf.Config.Cmd, []string{"sh"}) || !slices.Equal(cf.Config.Env, []string{defaultPath}) {
		t.Errorf("config cmd %q env %q", cf.Config.Cmd, cf.Config.Env)
	}
}

// Use the busybox binary as a stand-in testserver: any static ELF will do
// for checking the image's shape, and it needs no Go build.
func TestTestServerImage(t *testing.T) {
	bb := needBusybox(t)
	images, err := All(Options{BusyboxPath: bb, TestServerBinary: bb})
	if err != nil {
		t.Fatal(err)
	}
	img := images[TestServerRef]
	ls := layers(t, img)
	if len(ls) != 2 {
		t.Fatalf("%d layers, want 2", len(ls))
	}
	// The busybox layer is shared, digest for digest, with the busybox image.
	base, _ := ls[0].Digest()
	bbBase, _ := layers(t, images[BusyboxRef])[0].Digest()
	if base != bbBase {
		t.Errorf("testserver base layer %s, busybox layer %s: want the same", base, bbBase)
	}
	headers, _, _ := layerFiles(t, ls[1])
	h, ok := headers["testserver"]
	if !ok || h.Typeflag != tar.TypeReg || h.Mode != 0o755 || len(headers) != 1 {
		t.Errorf("top layer %v: want exactly an executable testserver", headers)
	}
	cf := configOf(t, img)
	if !slices.Equal(cf.Config.Entrypoint, []string{"/testserver"}) || !slices.Equal(cf.Config.Cmd, []string{"serve-hostname"}) {
		t.Errorf("entrypoint %q cmd %q", cf.Config.Entrypoint, cf.Config.Cmd)
	}
	if len(cf.History) != 2 || len(cf.RootFS.DiffIDs) != 2 {
		t.Errorf("history %v diffids %v: want 2 each", cf.History, cf.RootFS.DiffIDs)
	}
}

// Same inputs, same bytes: the image IDs (config digests) and manifest
// digests do not change between builds.
func TestReproducible(t *testing.T) {
	bb := needBusybox(t)
	// A copy elsewhere proves the host path does not leak into the image.
	bb2 := filepath.Join(t.TempDir(), "busybox")
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bb2, b, 0o755); err != nil {
		t.Fatal(err)
	}
	first, err := All(Options{BusyboxPath: bb, TestServerBinary: bb})
	if err != nil {
		t.Fatal(err)
	}
	second, err := All(Options{BusyboxPath: bb2, TestServerBinary: bb2})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{BusyboxRef, TestServerRef} {
		d1, err1 := first[ref].Digest()
		d2, err2 := second[ref].Digest()
		id1, _ := first[ref].ConfigName()
		id2, _ := second[ref].ConfigName()
		if err1 != nil || err2 != nil || d1 != d2 || id1 != id2 {
			t.Errorf("%s: digests %s / %s, ids %s / %s (%v %v): want equal", ref, d1, d2, id1, id2, err1, err2)
		}
	}
}

func TestRejectsUnusableBinaries(t *testing.T) {
	bb := needBusybox(t)
	text := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(text, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dynamic := "/bin/ls" // Debian's coreutils are dynamically linked
	if _, err := staticELF(dynamic); err == nil {
		t.Skipf("%s is static here; cannot test the dynamic case", dynamic)
	}
	tests := []struct {
		name, busybox, testserver, want string
	}{
		{"dynamic busybox", dynamic, bb, "dynamically linked"},
		{"dynamic testserver", bb, dynamic, "CGO_ENABLED=0"},
		{"script as testserver", bb, text, "as an ELF executable"},
		{"missing busybox", "/nonexistent/busybox", bb, "/nonexistent/busybox"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := TestServer(tt.busybox, tt.testserver)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("TestServer(%s, %s) = %v, want an error mentioning %q", tt.busybox, tt.testserver, err, tt.want)
			}
		})
	}
}

func TestFindTestServerBinary(t *testing.T) {
	file := filepath.Join(t.TempDir(), "testserver")
	if err := os.WriteFile(file, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBELAB_TESTSERVER", file)
	if got, err := FindTestServerBinary(); err != nil || got != file {
		t.Errorf("with $KUBELAB_TESTSERVER: %q, %v", got, err)
	}
	t.Setenv("KUBELAB_TESTSERVER", "/nonexistent/testserver")
	if _, err := FindTestServerBinary(); err == nil {
		t.Error("a wrong $KUBELAB_TESTSERVER must be an error, not skipped")
	}
	t.Setenv("KUBELAB_TESTSERVER", "")
	t.Setenv("PATH", filepath.Dir(file))
	if got, err := FindTestServerBinary(); err != nil || got != file {
		t.Errorf("on PATH: %q, %v", got, err)
	}
	t.Setenv("PATH", "")
	_, err := FindTestServerBinary()
	if !errors.Is(err, ErrTestServerNotFound) || !strings.Contains(err.Error(), "go build") {
		t.Errorf("nothing anywhere: %v, want ErrTestServerNotFound with a build hint", err)
	}
}
