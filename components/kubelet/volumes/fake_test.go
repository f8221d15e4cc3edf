package volumes

import (
	"errors"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// fakeMounter remembers tmpfs mounts instead of making them.
type fakeMounter struct {
	mu      sync.Mutex
	mounted map[string]int64 // dir -> size
	calls   int
	failOn  string
}

func newFakeMounter() *fakeMounter { return &fakeMounter{mounted: map[string]int64{}} }

func (f *fakeMounter) MountTmpfs(dir string, size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.mounted[dir] = size
	return nil
}

func (f *fakeMounter) Unmount(dir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if dir == f.failOn {
		return errors.New("device busy")
	}
	delete(f.mounted, dir)
	return nil
}

func (f *fakeMounter) MountPoints(dir string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for mp := range f.mounted {
		if within(mp, dir) {
			out = append(out, mp)
		}
	}
	sort.Strings(out)
	return out, nil
}

type fakeSource struct {
	cms     map[string]*corev1.ConfigMap
	secrets map[string]*corev1.Secret
}

func (f *fakeSource) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	if cm, ok := f.cms[ns+"/"+name]; ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func (f *fakeSource) Secret(ns, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

type fakeTokens struct{ n int }

func (f *fakeTokens) Token(pod *corev1.Pod, audience string, exp int64) (string, error) {
	f.n++
	return "token-for-" + pod.Spec.ServiceAccountName + "-" + audience, nil
}
