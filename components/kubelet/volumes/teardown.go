package volumes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// TearDown unmounts every mount under the pod's volumes directory (tmpfs
// of memory emptyDirs, secrets and projected volumes), then removes the
// pod directory. It refuses to delete anything while a mount remains below
// the pod directory — deleting through a mount would destroy what it shows
// — so tear the runtime's sandbox down first if it keeps files there.
// hostPath volumes are never touched. Tearing down a pod that has no
// directory is not an error.
func (m *Manager) TearDown(podUID string) error {
	if podUID == "" || podUID == "." || podUID == ".." || strings.ContainsRune(podUID, '/') {
		return fmt.Errorf("tear down volumes: invalid pod uid %q", podUID)
	}
	podDir := m.PodDir(podUID)
	if _, err := os.Lstat(podDir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	volDir := filepath.Join(podDir, "volumes")
	mps, err := m.mounter().MountPoints(volDir)
	if err != nil {
		return fmt.Errorf("tear down volumes of pod %s: %w", podUID, err)
	}
	// Deepest first, so nested mounts come off before their parents.
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	var errs []error
	for _, mp := range mps {
		if err := m.mounter().Unmount(mp); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("tear down volumes of pod %s: %w", podUID, errors.Join(errs...))
	}
	left, err := m.mounter().MountPoints(podDir)
	if err != nil {
		return fmt.Errorf("tear down volumes of pod %s: %w", podUID, err)
	}
	if len(left) > 0 {
		return fmt.Errorf("tear down volumes of pod %s: still mounted: %s", podUID, strings.Join(left, ", "))
	}
	if err := os.RemoveAll(podDir); err != nil {
		return fmt.Errorf("remove pod dir %s: %w", podDir, err)
	}
	return nil
}
