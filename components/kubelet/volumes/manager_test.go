package volumes

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func newManager(t *testing.T) (*Manager, *fakeSource, *fakeMounter) {
	t.Helper()
	src := &fakeSource{
		cms: map[string]*corev1.ConfigMap{"ns/cfg": {ObjectMeta: metav1.ObjectMeta{Name: "cfg"},
			Data: map[string]string{"a.conf": "A", "b.conf": "B"}, BinaryData: map[string][]byte{"bin": {0, 1}}}},
		secrets: map[string]*corev1.Secret{"ns/pw": {ObjectMeta: metav1.ObjectMeta{Name: "pw"},
			Data: map[string][]byte{"password": []byte("s3cret")}}},
	}
	fm := newFakeMounter()
	return &Manager{Root: t.TempDir(), Source: src, Mounter: fm}, src, fm
}

func testPod(vols ...corev1.Volume) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "uid-1",
			Labels: map[string]string{"app": "web", "tier": "front"}},
		Spec: corev1.PodSpec{ServiceAccountName: "sa", Volumes: vols,
			Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}},
	}
}

func vol(name string, src corev1.VolumeSource) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: src}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

func TestEmptyDir(t *testing.T) {
	m, _, fm := newManager(t)
	size := resource.MustParse("16Mi")
	pod := testPod(
		vol("scratch", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}),
		vol("mem", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &size}}),
	)
	for range 2 { // idempotent
		v, err := m.SetUp(pod)
		if err != nil {
			t.Fatal(err)
		}
		want := filepath.Join(m.Root, "pods/uid-1/volumes/kubernetes.io~empty-dir/scratch")
		if v.Paths["scratch"] != want || mode(t, want) != 0o777 {
			t.Errorf("scratch = %s", v.Paths["scratch"])
		}
	}
	memDir := m.VolumeDir("uid-1", KindEmptyDir, "mem")
	if fm.mounted[memDir] != 16<<20 || fm.calls != 1 {
		t.Errorf("tmpfs mounts = %v after %d calls", fm.mounted, fm.calls)
	}
	bad := testPod(vol("h", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumHugePages}}))
	if _, err := m.SetUp(bad); err == nil {
		t.Error("hugepages medium accepted")
	}
}

func TestConfigMapVolume(t *testing.T) {
	m, src, _ := newManager(t)
	mode0600 := int32(0o600)
	mode0400 := int32(0o400)
	pod := testPod(
		vol("all", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, DefaultMode: &mode0600}}),
		vol("some", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
			Items: []corev1.KeyToPath{{Key: "a.conf", Path: "sub/dir/a"}, {Key: "b.conf", Path: "b", Mode: &mode0400}}}}),
		vol("opt", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Optional: new(true)}}),
	)
	v, err := m.SetUp(pod)
	if err != nil {
		t.Fatal(err)
	}
	all := v.Paths["all"]
	if read(t, filepath.Join(all, "a.conf")) != "A" || read(t, filepath.Join(all, "bin")) != "\x00\x01" || mode(t, filepath.Join(all, "a.conf")) != 0o600 {
		t.Error("all keys not projected with defaultMode")
	}
	if target, _ := os.Readlink(filepath.Join(all, "a.conf")); target != "..data/a.conf" {
		t.Errorf("a.conf -> %q, want ..data/a.conf", target)
	}
	some := v.Paths["some"]
	if read(t, filepath.Join(some, "sub/dir/a")) != "A" || mode(t, filepath.Join(some, "b")) != 0o400 || mode(t, filepath.Join(some, "sub/dir/a")) != 0o644 {
		t.Error("items not projected")
	}
	if _, err := os.Lstat(filepath.Join(some, "a.conf")); err == nil {
		t.Error("unlisted key projected")
	}
	if entries, _ := os.ReadDir(v.Paths["opt"]); len(entries) != 2 { // ..data and the generation
		t.Errorf("optional missing configmap dir = %v", entries)
	}

	// Update: change one key, drop another.
	gen1, _ := os.Readlink(filepath.Join(all, "..data"))
	src.cms["ns/cfg"].Data = map[string]string{"a.conf": "A2", "b.conf": "B"}
	src.cms["ns/cfg"].BinaryData = nil
	changed, err := m.Refresh(pod)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(changed)
	if strings.Join(changed, ",") != "all,some" {
		t.Errorf("changed = %v", changed)
	}
	if read(t, filepath.Join(all, "a.conf")) != "A2" {
		t.Error("update not visible")
	}
	if _, err := os.Lstat(filepath.Join(all, "bin")); err == nil {
		t.Error("removed key still visible")
	}
	if _, err := os.Stat(filepath.Join(all, gen1)); err == nil {
		t.Error("old generation not removed")
	}
	// "some" lists b.conf, now missing and not optional.
	delete(src.cms["ns/cfg"].Data, "b.conf")
	if _, err := m.SetUp(pod); err == nil || !strings.Contains(err.Error(), `MountVolume.SetUp failed for volume "some" : configmap references non-existent config key: b.conf`) {
		t.Errorf("err = %v", err)
	}
	pod.Spec.Volumes = pod.Spec.Volumes[:1]
	if changed, _ := m.Refresh(pod); len(changed) != 0 {
		t.Errorf("unchanged content rewritten: %v", changed)
	}
}

func TestMissingObjects(t *testing.T) {
	m, _, _ := newManager(t)
	pod := testPod(
		vol("c", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "x"}}}),
		vol("s", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "y"}}),
		vol("ok", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}),
	)
	v, err := m.SetUp(pod)
	for _, want := range []string{`MountVolume.SetUp failed for volume "c" : configmap "x" not found`, `MountVolume.SetUp failed for volume "s" : secret "y" not found`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
	var ve *VolumeError
	if !errors.As(err, &ve) || v.Paths["ok"] == "" {
		t.Errorf("typed error / other volumes: %v %v", err, v.Paths)
	}
}

func TestSecretVolume(t *testing.T) {
	m, _, fm := newManager(t)
	pod := testPod(vol("pw", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "pw",
		Items: []corev1.KeyToPath{{Key: "password", Path: "pass"}, {Key: "nokey", Path: "x"}}, Optional: new(true)}}))
	v, err := m.SetUp(pod)
	if err != nil {
		t.Fatal(err)
	}
	if read(t, filepath.Join(v.Paths["pw"], "pass")) != "s3cret" {
		t.Error("secret not written")
	}
	if _, ok := fm.mounted[v.Paths["pw"]]; !ok {
		t.Error("secret volume not on tmpfs")
	}
	pod.Spec.Volumes[0].Secret.Optional = nil
	if _, err := m.SetUp(pod); err == nil || !strings.Contains(err.Error(), "secret references non-existent secret key: nokey") {
		t.Errorf("err = %v", err)
	}
}

func TestDownwardAPIVolume(t *testing.T) {
	m, _, _ := newManager(t)
	pod := testPod(vol("info", corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
		{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
		{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
		{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "c", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
	}}}))
	v, err := m.SetUp(pod)
	if err != nil {
		t.Fatal(err)
	}
	dir := v.Paths["info"]
	if got := read(t, filepath.Join(dir, "labels")); got != "app=\"web\"\ntier=\"front\"" {
		t.Errorf("labels = %q", got)
	}
	if read(t, filepath.Join(dir, "name")) != "web" || read(t, filepath.Join(dir, "mem")) != "64" {
		t.Error("name/mem wrong")
	}
	pod.Labels["tier"] = "back"
	if changed, err := m.Refresh(pod); err != nil || len(changed) != 1 {
		t.Fatalf("refresh = %v %v", changed, err)
	}
	if !strings.Contains(read(t, filepath.Join(dir, "labels")), `tier="back"`) {
		t.Error("label update not visible")
	}
}

func TestProjectedVolume(t *testing.T) {
	m, _, fm := newManager(t)
	exp := int64(600)
	proj := &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", Audience: "api", ExpirationSeconds: &exp}},
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Items: []corev1.KeyToPath{{Key: "a.conf", Path: "ca.crt"}}}},
		{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "pw"}}},
		{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
	}}
	pod := testPod(vol("kube-api-access", corev1.VolumeSource{Projected: proj}))

	// Without a token source the rest is still written, with a warning.
	v, err := m.SetUp(pod)
	if err != nil {
		t.Fatal(err)
	}
	dir := v.Paths["kube-api-access"]
	if len(v.Warnings) != 1 || !errors.Is(v.Warnings[0], ErrNoTokenSource) {
		t.Errorf("warnings = %v", v.Warnings)
	}
	if read(t, filepath.Join(dir, "ca.crt")) != "A" || read(t, filepath.Join(dir, "password")) != "s3cret" || read(t, filepath.Join(dir, "namespace")) != "ns" {
		t.Error("projected sources missing")
	}
	if _, err := os.Lstat(filepath.Join(dir, "token")); err == nil {
		t.Error("token written without a source")
	}
	if _, ok := fm.mounted[dir]; !ok {
		t.Error("projected volume not on tmpfs")
	}

	m.Tokens = &fakeTokens{}
	v, err = m.SetUp(pod)
	if err != nil || len(v.Warnings) != 0 {
		t.Fatal(err, v.Warnings)
	}
	if read(t, filepath.Join(dir, "token")) != "token-for-sa-api" {
		t.Error("token not written")
	}

	proj.Sources = append(proj.Sources, corev1.VolumeProjection{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{Path: "b"}})
	if _, err := m.SetUp(pod); err == nil || !strings.Contains(err.Error(), "clusterTrustBundle") {
		t.Errorf("err = %v", err)
	}
}

func TestUnsupported(t *testing.T) {
	m, _, _ := newManager(t)
	pod := testPod(vol("data", corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}}),
		vol("n", corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "s", Path: "/"}}))
	_, err := m.SetUp(pod)
	if !IsUnsupported(err) || !strings.Contains(err.Error(), `volume "data": persistentVolumeClaim volumes are not supported`) ||
		!strings.Contains(err.Error(), `volume "n": nfs volumes`) {
		t.Errorf("err = %v", err)
	}
}

func TestPayloadPathValidation(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"", "/abs", "../x", "a/../../x", "..data"} {
		if _, err := writeAtomic(dir, map[string]File{p: {Data: []byte("x"), Mode: 0o644}}); err == nil {
			t.Errorf("path %q accepted", p)
		}
	}
}

func TestTearDown(t *testing.T) {
	m, _, fm := newManager(t)
	pod := testPod(
		vol("mem", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}),
		vol("pw", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "pw"}}),
	)
	if _, err := m.SetUp(pod); err != nil {
		t.Fatal(err)
	}
	fm.failOn = m.VolumeDir("uid-1", KindSecret, "pw")
	if err := m.TearDown("uid-1"); err == nil {
		t.Fatal("teardown with a stuck mount succeeded")
	}
	if _, err := os.Stat(m.PodDir("uid-1")); err != nil {
		t.Fatal("pod dir removed while a mount remained")
	}
	fm.failOn = ""
	if err := m.TearDown("uid-1"); err != nil {
		t.Fatal(err)
	}
	if len(fm.mounted) != 0 {
		t.Errorf("still mounted: %v", fm.mounted)
	}
	if _, err := os.Stat(m.PodDir("uid-1")); !os.IsNotExist(err) {
		t.Error("pod dir left behind")
	}
	if err := m.TearDown("uid-1"); err != nil {
		t.Errorf("second teardown: %v", err)
	}
	for _, bad := range []string{"", "..", "a/b"} {
		if err := m.TearDown(bad); err == nil {
			t.Errorf("uid %q accepted", bad)
		}
	}
}
