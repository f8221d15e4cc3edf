package volumes

import (
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// TestTmpfsForReal mounts real tmpfs filesystems (root only) and checks
// that TearDown leaves no mount and no directory behind.
func TestTmpfsForReal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount tmpfs")
	}
	m, _, _ := newManager(t)
	m.Mounter = SystemMounter{}
	t.Cleanup(func() {
		// Whatever happens, leave no mount behind.
		mps, _ := SystemMounter{}.MountPoints(m.Root)
		for i := len(mps) - 1; i >= 0; i-- {
			_ = SystemMounter{}.Unmount(mps[i])
		}
	})
	size := resource.MustParse("8Mi")
	pod := testPod(
		vol("mem", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &size}}),
		vol("pw", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "pw"}}),
	)
	for range 2 { // the second SetUp must not stack mounts
		if _, err := m.SetUp(pod); err != nil {
			t.Fatal(err)
		}
	}
	mps, err := SystemMounter{}.MountPoints(m.PodDir("uid-1"))
	if err != nil || len(mps) != 2 {
		t.Fatalf("mount points = %v %v", mps, err)
	}
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	memDir := m.VolumeDir("uid-1", KindEmptyDir, "mem")
	found := false
	for _, line := range strings.Split(string(info), "\n") {
		if strings.Contains(line, " "+memDir+" ") && strings.Contains(line, "tmpfs") && strings.Contains(line, "size=8192k") {
			found = true
		}
	}
	if !found {
		t.Errorf("no 8Mi tmpfs on %s", memDir)
	}
	if st, err := os.Stat(memDir); err != nil || st.Mode().Perm() != 0o777 {
		t.Errorf("memory emptyDir mode = %v %v", st.Mode(), err)
	}

	if err := m.TearDown("uid-1"); err != nil {
		t.Fatal(err)
	}
	if mps, _ := (SystemMounter{}).MountPoints(m.Root); len(mps) != 0 {
		t.Errorf("left mounted: %v", mps)
	}
	if _, err := os.Stat(m.PodDir("uid-1")); !os.IsNotExist(err) {
		t.Error("pod dir left")
	}
}
