package volumes

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Source reads the objects volumes project. A missing object must be an
// error for which apierrors.IsNotFound is true (what client-go listers
// return).
type Source interface {
	ConfigMap(namespace, name string) (*corev1.ConfigMap, error)
	Secret(namespace, name string) (*corev1.Secret, error)
}

// TokenSource issues service account tokens for projected volumes (the
// TokenRequest API). Implementations should cache and renew tokens (at 80%
// of their lifetime, like upstream): Refresh asks on every call.
type TokenSource interface {
	Token(pod *corev1.Pod, audience string, expirationSeconds int64) (string, error)
}

// Plugin directory names under <pod>/volumes, as upstream.
const (
	KindEmptyDir    = "kubernetes.io~empty-dir"
	KindConfigMap   = "kubernetes.io~configmap"
	KindSecret      = "kubernetes.io~secret"
	KindDownwardAPI = "kubernetes.io~downward-api"
	KindProjected   = "kubernetes.io~projected"
)

// Manager sets up and tears down pod volumes under Root.
type Manager struct {
	// Root is the kubelet's root directory (--root-dir).
	Root   string
	Source Source
	// Tokens may be nil: projected token files are then skipped with a
	// warning.
	Tokens TokenSource
	// Mounter defaults to SystemMounter.
	Mounter Mounter
	// NodeAllocatable stands in for unset limits in downwardAPI
	// resourceFieldRefs.
	NodeAllocatable corev1.ResourceList
	Log             *slog.Logger
}

// Volumes is the outcome of SetUp.
type Volumes struct {
	// Paths maps each volume name to its directory (or file) on the node.
	Paths map[string]string
	// Warnings are problems that did not stop the volume from being usable,
	// such as a skipped service account token (ErrNoTokenSource).
	Warnings []error
}

func (m *Manager) mounter() Mounter {
	if m.Mounter != nil {
		return m.Mounter
	}
	return SystemMounter{}
}

// PodDir is <root>/pods/<uid>.
func (m *Manager) PodDir(uid string) string { return filepath.Join(m.Root, "pods", uid) }

// VolumeDir is where a volume of a kind lives.
func (m *Manager) VolumeDir(uid, kind, name string) string {
	return filepath.Join(m.PodDir(uid), "volumes", kind, name)
}

// SetUp makes every volume of the pod ready. It is idempotent: call it on
// every pod sync. Volumes that fail are reported as *VolumeError (joined);
// the others are still set up and listed in Paths. Containers must not
// start while the error is non-nil.
func (m *Manager) SetUp(pod *corev1.Pod) (*Volumes, error) {
	res := &Volumes{Paths: map[string]string{}}
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		out, err := m.setUpOne(pod, v)
		if out.warn != nil {
			res.Warnings = append(res.Warnings, &VolumeError{Volume: v.Name, Err: out.warn})
		}
		if err != nil {
			var u *UnsupportedError
			if errors.As(err, &u) {
				errs = append(errs, err)
			} else {
				errs = append(errs, &VolumeError{Volume: v.Name, Err: err})
			}
			continue
		}
		res.Paths[v.Name] = out.path
	}
	return res, errors.Join(errs...)
}

// Refresh rewrites the ConfigMap, Secret, downwardAPI and projected volumes
// whose content changed (atomically, via the ..data swap) and returns the
// names of those it changed. Call it periodically and when a referenced
// object changes.
func (m *Manager) Refresh(pod *corev1.Pod) ([]string, error) {
	var changed []string
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if v.ConfigMap == nil && v.Secret == nil && v.DownwardAPI == nil && v.Projected == nil {
			continue
		}
		out, err := m.setUpOne(pod, v)
		if err != nil {
			errs = append(errs, &VolumeError{Volume: v.Name, Err: err})
			continue
		}
		if out.changed {
			changed = append(changed, v.Name)
		}
	}
	return changed, errors.Join(errs...)
}

// outcome is what setting up one volume produced.
type outcome struct {
	path    string
	changed bool  // projected content was (re)written
	warn    error // non-fatal (a skipped token)
}

// setUpOne sets up one volume.
func (m *Manager) setUpOne(pod *corev1.Pod, v *corev1.Volume) (outcome, error) {
	uid := string(pod.UID)
	src := &v.VolumeSource
	switch {
	case src.EmptyDir != nil:
		dir := m.VolumeDir(uid, KindEmptyDir, v.Name)
		return outcome{path: dir}, m.setUpEmptyDir(dir, src.EmptyDir)
	case src.HostPath != nil:
		return outcome{path: src.HostPath.Path}, checkHostPath(src.HostPath)
	case src.ConfigMap != nil:
		cm := src.ConfigMap
		dir := m.VolumeDir(uid, KindConfigMap, v.Name)
		out := map[string]File{}
		if err := m.configMapPayload(pod.Namespace, cm.Name, cm.Items, modeOr(cm.DefaultMode, defaultMode), isTrue(cm.Optional), out); err != nil {
			return outcome{}, err
		}
		changed, err := writeAtomic(dir, out)
		return outcome{path: dir, changed: changed}, err
	case src.Secret != nil:
		s := src.Secret
		dir := m.VolumeDir(uid, KindSecret, v.Name)
		out := map[string]File{}
		if err := m.secretPayload(pod.Namespace, s.SecretName, s.Items, modeOr(s.DefaultMode, defaultMode), isTrue(s.Optional), out); err != nil {
			return outcome{}, err
		}
		// Secrets never touch the node's disk.
		if err := m.ensureTmpfs(dir, 0); err != nil {
			return outcome{}, err
		}
		changed, err := writeAtomic(dir, out)
		return outcome{path: dir, changed: changed}, err
	case src.DownwardAPI != nil:
		d := src.DownwardAPI
		dir := m.VolumeDir(uid, KindDownwardAPI, v.Name)
		out := map[string]File{}
		if err := m.downwardPayload(pod, d.Items, modeOr(d.DefaultMode, defaultMode), out); err != nil {
			return outcome{}, err
		}
		changed, err := writeAtomic(dir, out)
		return outcome{path: dir, changed: changed}, err
	case src.Projected != nil:
		dir := m.VolumeDir(uid, KindProjected, v.Name)
		out := map[string]File{}
		warn, err := m.projectedPayload(pod, src.Projected, out)
		if err != nil {
			return outcome{warn: warn}, err
		}
		if err := m.ensureTmpfs(dir, 0); err != nil {
			return outcome{warn: warn}, err
		}
		changed, err := writeAtomic(dir, out)
		return outcome{path: dir, changed: changed, warn: warn}, err
	}
	return outcome{}, &UnsupportedError{Volume: v.Name, Kind: sourceKind(src)}
}

func (m *Manager) setUpEmptyDir(dir string, e *corev1.EmptyDirVolumeSource) error {
	switch e.Medium {
	case corev1.StorageMediumDefault:
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	case corev1.StorageMediumMemory:
		var size int64
		if e.SizeLimit != nil {
			size = e.SizeLimit.Value()
		}
		if err := m.ensureTmpfs(dir, size); err != nil {
			return err
		}
	default:
		return fmt.Errorf("emptyDir medium %q is not supported by kubelab", e.Medium)
	}
	// Any user in the container may write an emptyDir (upstream 0777); the
	// umask would otherwise take the group/other bits away.
	if err := os.Chmod(dir, 0o777); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	return nil
}

// ensureTmpfs creates dir and mounts a tmpfs on it unless one is there.
func (m *Manager) ensureTmpfs(dir string, size int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	mps, err := m.mounter().MountPoints(dir)
	if err != nil {
		return err
	}
	for _, mp := range mps {
		if mp == filepath.Clean(dir) {
			return nil
		}
	}
	return m.mounter().MountTmpfs(dir, size)
}

// sourceKind names the set field of a VolumeSource by its JSON name
// ("persistentVolumeClaim", "nfs", …) for error messages.
func sourceKind(src *corev1.VolumeSource) string {
	v := reflect.ValueOf(src).Elem()
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			return strings.Split(v.Type().Field(i).Tag.Get("json"), ",")[0]
		}
	}
	return "unknown"
}
