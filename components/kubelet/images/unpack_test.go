package images

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestUnpackEntries(t *testing.T) {
	requireRoot(t) // chown to arbitrary uids
	dir := t.TempDir()
	err := unpack(dir, bytes.NewReader(tarBytes(t,
		entry{name: "./", typ: tar.TypeDir, mode: 0o755},
		entry{name: "bin/", typ: tar.TypeDir},
		entry{name: "bin/busybox", body: "#!", mode: 0o4755},
		entry{name: "bin/sh", typ: tar.TypeSymlink, link: "busybox"},
		entry{name: "bin/ls", typ: tar.TypeLink, link: "bin/busybox"},
		entry{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\n", uid: 1000, gid: 1001},
		entry{name: "abs", typ: tar.TypeSymlink, link: "/etc/shadow"},
		entry{name: "etc/passwd", body: "replaced\n"}, // later entries win
		entry{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		entry{name: "fifo", typ: tar.TypeFifo, mode: 0o600},
	)))
	if err != nil {
		t.Fatalf("unpack: %v", err)
	}
	checks := []struct {
		path string
		mode os.FileMode
	}{
		{"bin/busybox", 0o755 | os.ModeSetuid},
		{"bin/sh", os.ModeSymlink | 0o777},
		{"tmp", os.ModeDir | 0o777 | os.ModeSticky},
		{"fifo", os.ModeNamedPipe | 0o600},
		{".", os.ModeDir | 0o755},
	}
	for _, c := range checks {
		fi, err := os.Lstat(filepath.Join(dir, c.path))
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if fi.Mode() != c.mode {
			t.Errorf("%s: mode %v, want %v", c.path, fi.Mode(), c.mode)
		}
	}
	if got, _ := os.Readlink(filepath.Join(dir, "abs")); got != "/etc/shadow" {
		t.Errorf("absolute symlink target %q kept verbatim, want /etc/shadow", got)
	}
	a, _ := os.Stat(filepath.Join(dir, "bin/busybox"))
	b, _ := os.Stat(filepath.Join(dir, "bin/ls"))
	if !os.SameFile(a, b) {
		t.Error("bin/ls is not a hard link of bin/busybox")
	}
	data, _ := os.ReadFile(filepath.Join(dir, "etc/passwd"))
	if string(data) != "replaced\n" {
		t.Errorf("etc/passwd = %q, want the later entry", data)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dir, "etc/passwd"), &st); err != nil || st.Uid != 0 {
		t.Errorf("etc/passwd owner uid=%d (err %v), want the last entry's 0", st.Uid, err)
	}
}

func TestUnpackRejectsEscapes(t *testing.T) {
	outside := t.TempDir()
	tests := []struct {
		name    string
		entries []entry
	}{
		{"dotdot", []entry{{name: "../escape", body: "x"}}},
		{"nested dotdot", []entry{{name: "a/../../escape", body: "x"}}},
		{"through symlink", []entry{
			{name: "link", typ: tar.TypeSymlink, link: outside},
			{name: "link/escape", body: "x"},
		}},
		{"through relative symlink", []entry{
			{name: "up", typ: tar.TypeSymlink, link: "../../../../../../../../" + outside},
			{name: "up/escape", body: "x"},
		}},
		{"hard link outside", []entry{{name: "h", typ: tar.TypeLink, link: "../../etc/passwd"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "layer")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			err := unpack(dir, bytes.NewReader(tarBytes(t, tc.entries...)))
			if !errors.Is(err, errUnsafePath) {
				t.Fatalf("unpack err = %v, want errUnsafePath", err)
			}
			if _, err := os.Stat(filepath.Join(outside, "escape")); err == nil {
				t.Fatal("an entry was written outside the layer")
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape")); err == nil {
				t.Fatal("an entry was written next to the layer")
			}
		})
	}
}

// whiteoutLayers is a base layer and an upper layer that deletes a file
// and makes a directory opaque.
func whiteoutLayers(t *testing.T) (base, upper []byte) {
	base = tarBytes(t,
		entry{name: "keep", body: "keep"},
		entry{name: "gone", body: "gone"},
		entry{name: "d/", typ: tar.TypeDir},
		entry{name: "d/old1", body: "1"},
		entry{name: "d/old2", body: "2"},
	)
	upper = tarBytes(t,
		entry{name: ".wh.gone", body: ""},
		entry{name: "d/", typ: tar.TypeDir},
		entry{name: "d/.wh..wh..opq", body: ""},
		entry{name: "d/new", body: "new"},
		entry{name: ".wh..wh.plnk", typ: tar.TypeDir}, // aufs bookkeeping: ignored
	)
	return base, upper
}

func TestUnpackWhiteouts(t *testing.T) {
	requireRoot(t)
	_, upper := whiteoutLayers(t)
	dir := t.TempDir()
	if err := unpack(dir, bytes.NewReader(upper)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(dir, "gone"))
	if err != nil {
		t.Fatalf("whiteout for gone: %v", err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode()&os.ModeCharDevice == 0 || st.Rdev != 0 {
		t.Errorf("gone: mode %v rdev %d, want a 0/0 character device", fi.Mode(), st.Rdev)
	}
	buf := make([]byte, 8)
	n, err := unix.Getxattr(filepath.Join(dir, "d"), overlayOpaqueKey, buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("d: %s = %q (err %v), want y", overlayOpaqueKey, buf[:n], err)
	}
	for _, n := range []string{".wh.gone", "d/.wh..wh..opq", ".wh..wh.plnk"} {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			t.Errorf("%s was written as a file", n)
		}
	}
}

// TestOverlayHonoursWhiteouts mounts the two layers as overlayfs lowers and
// checks what a container would see.
func TestOverlayHonoursWhiteouts(t *testing.T) {
	requireRoot(t)
	base, upper := whiteoutLayers(t)
	tmp := t.TempDir()
	lower1, lower2, mnt := filepath.Join(tmp, "l1"), filepath.Join(tmp, "l2"), filepath.Join(tmp, "mnt")
	for i, d := range []string{lower1, lower2, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			if err := unpack(d, bytes.NewReader([][]byte{base, upper}[i])); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Topmost first, as Image.LowerDirs orders them.
	if err := unix.Mount("overlay", mnt, "overlay", unix.MS_RDONLY, "lowerdir="+lower2+":"+lower1); err != nil {
		t.Skipf("cannot mount overlayfs here: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	var got []string
	_ = filepath.Walk(mnt, func(p string, fi os.FileInfo, err error) error {
		if err == nil && p != mnt {
			got = append(got, strings.TrimPrefix(p, mnt+"/"))
		}
		return nil
	})
	want := "d d/new keep"
	if strings.Join(got, " ") != want {
		t.Errorf("overlay shows %q, want %q", strings.Join(got, " "), want)
	}
}
