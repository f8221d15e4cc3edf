package volumes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubelab/kubelab/components/kubelet/runtime"
	corev1 "k8s.io/api/core/v1"
)

func TestMounts(t *testing.T) {
	m, _, _ := newManager(t)
	pod := testPod(
		vol("data", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}),
		vol("cfg", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}),
	)
	v, err := m.SetUp(pod)
	if err != nil {
		t.Fatal(err)
	}
	data, cfg := v.Paths["data"], v.Paths["cfg"]
	realCfg, _ := filepath.EvalSymlinks(filepath.Join(cfg, "a.conf"))
	c := &corev1.Container{Name: "c", VolumeMounts: []corev1.VolumeMount{
		{Name: "data", MountPath: "/data"},
		{Name: "data", MountPath: "/ro", ReadOnly: true},
		{Name: "cfg", MountPath: "/etc/app"},
		{Name: "cfg", MountPath: "/etc/a.conf", SubPath: "a.conf"},
		{Name: "data", MountPath: "/logs", SubPathExpr: "logs/$(POD_NAME)"},
	}}
	got, err := Mounts(pod, c, v.Paths, map[string]string{"POD_NAME": "web"})
	if err != nil {
		t.Fatal(err)
	}
	want := []runtime.Mount{
		{Source: data, Destination: "/data"},
		{Source: data, Destination: "/ro", ReadOnly: true},
		{Source: cfg, Destination: "/etc/app", ReadOnly: true},
		{Source: realCfg, Destination: "/etc/a.conf", ReadOnly: true},
		{Source: filepath.Join(data, "logs/web"), Destination: "/logs"},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mount %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if info, err := os.Stat(filepath.Join(data, "logs/web")); err != nil || !info.IsDir() {
		t.Error("subPathExpr dir not created")
	}

	// An escape through a symlink planted in the volume.
	if err := os.Symlink("/etc", filepath.Join(data, "evil")); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		vm   corev1.VolumeMount
		want string
	}{
		{corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "evil"}, "resolves outside its volume"},
		{corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "evil/passwd"}, "resolves outside its volume"},
		{corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "a/../../x"}, "must not contain '..'"},
		{corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "/abs"}, "must be relative"},
		{corev1.VolumeMount{Name: "data", MountPath: "/x", SubPathExpr: "$(NOPE)/$(EMPTY)"}, "missing value for EMPTY, NOPE"},
		{corev1.VolumeMount{Name: "nope", MountPath: "/x"}, `volume "nope" is not set up`},
	}
	for _, b := range bad {
		_, err := Mounts(pod, &corev1.Container{Name: "c", VolumeMounts: []corev1.VolumeMount{b.vm}}, v.Paths, map[string]string{"EMPTY": ""})
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%+v: err = %v, want %q", b.vm, err, b.want)
		}
	}
}
