package volumes

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestHostPathTypes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })

	tests := []struct {
		path string
		typ  corev1.HostPathType
		err  string
	}{
		{filepath.Join(dir, "anything"), corev1.HostPathUnset, ""},
		{filepath.Join(dir, "new/dir"), corev1.HostPathDirectoryOrCreate, ""},
		{file, corev1.HostPathDirectoryOrCreate, "is not a directory"},
		{dir, corev1.HostPathDirectory, ""},
		{filepath.Join(dir, "missing"), corev1.HostPathDirectory, "is not a directory"},
		{filepath.Join(dir, "newfile"), corev1.HostPathFileOrCreate, ""},
		{filepath.Join(dir, "nodir/newfile"), corev1.HostPathFileOrCreate, "create file"},
		{dir, corev1.HostPathFileOrCreate, "is not a file"},
		{file, corev1.HostPathFile, ""},
		{dir, corev1.HostPathFile, "is not a file"},
		{sock, corev1.HostPathSocket, ""},
		{file, corev1.HostPathSocket, "is not a socket file"},
		{"/dev/null", corev1.HostPathCharDev, ""},
		{file, corev1.HostPathCharDev, "is not a character device"},
		{"/dev/null", corev1.HostPathBlockDev, "is not a block device"},
		{file, "Bogus", "unknown type"},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ)+" "+filepath.Base(tt.path), func(t *testing.T) {
			typ := tt.typ
			err := checkHostPath(&corev1.HostPathVolumeSource{Path: tt.path, Type: &typ})
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
		})
	}
	if info, err := os.Stat(filepath.Join(dir, "new/dir")); err != nil || !info.IsDir() {
		t.Error("DirectoryOrCreate did not create")
	}
	if info, err := os.Stat(filepath.Join(dir, "newfile")); err != nil || !info.Mode().IsRegular() {
		t.Error("FileOrCreate did not create")
	}

	// Through the manager: the path is the host path itself.
	m, _, _ := newManager(t)
	v, err := m.SetUp(testPod(vol("h", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}})))
	if err != nil || v.Paths["h"] != dir {
		t.Errorf("hostPath = %v %v", v.Paths, err)
	}
}
