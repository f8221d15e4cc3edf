package volumes

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kubelab/kubelab/components/kubelet/containerenv"
	"github.com/kubelab/kubelab/components/kubelet/runtime"
	corev1 "k8s.io/api/core/v1"
)

// Mounts turns a container's volumeMounts into bind mounts for the runtime.
// paths is Volumes.Paths; env is the container's resolved environment (for
// subPathExpr). ConfigMap, Secret, downwardAPI and projected volumes are
// always read-only, as upstream.
//
// A subPath (or expanded subPathExpr) must be relative without "..", must
// resolve — symlinks included — inside the volume, and is created as a
// directory when missing. The resolved path is returned, so a subPath of a
// ConfigMap volume pins the file it resolved to and does not see later
// updates (upstream behaves the same).
func Mounts(pod *corev1.Pod, c *corev1.Container, paths map[string]string, env map[string]string) ([]runtime.Mount, error) {
	kinds := map[string]*corev1.VolumeSource{}
	for i := range pod.Spec.Volumes {
		kinds[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i].VolumeSource
	}
	out := make([]runtime.Mount, 0, len(c.VolumeMounts))
	for _, vm := range c.VolumeMounts {
		src, ok := paths[vm.Name]
		if !ok {
			return nil, fmt.Errorf("container %q: volume %q is not set up", c.Name, vm.Name)
		}
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			var err error
			if sub, err = expandSubPath(vm.SubPathExpr, env); err != nil {
				return nil, fmt.Errorf("container %q: volume %q: subPathExpr: %w", c.Name, vm.Name, err)
			}
		}
		if sub != "" {
			var err error
			if src, err = resolveSubPath(src, sub); err != nil {
				return nil, fmt.Errorf("container %q: volume %q: %w", c.Name, vm.Name, err)
			}
		}
		ro := vm.ReadOnly
		if k := kinds[vm.Name]; k != nil && (k.ConfigMap != nil || k.Secret != nil || k.DownwardAPI != nil || k.Projected != nil) {
			ro = true
		}
		out = append(out, runtime.Mount{Source: src, Destination: vm.MountPath, ReadOnly: ro})
	}
	return out, nil
}

// expandSubPath expands $(VAR)s; unlike env values, an unknown or empty
// variable is an error (upstream: "missing value for VAR").
func expandSubPath(expr string, env map[string]string) (string, error) {
	missing := map[string]bool{}
	s := containerenv.Expand(expr, func(k string) string {
		v, ok := env[k]
		if !ok || v == "" {
			missing[k] = true
		}
		return v
	})
	if len(missing) > 0 {
		keys := make([]string, 0, len(missing))
		for k := range missing {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return "", fmt.Errorf("missing value for %s", strings.Join(keys, ", "))
	}
	return s, nil
}

// resolveSubPath joins sub to the volume root and makes sure the result —
// after following symlinks — stays inside the volume.
func resolveSubPath(root, sub string) (string, error) {
	if filepath.IsAbs(sub) {
		return "", fmt.Errorf("subPath %q must be relative", sub)
	}
	for _, part := range strings.Split(filepath.ToSlash(sub), "/") {
		if part == ".." {
			return "", fmt.Errorf("subPath %q must not contain '..'", sub)
		}
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("resolve volume root %s: %w", root, err)
	}
	full := filepath.Join(realRoot, sub)
	if _, err := os.Lstat(full); os.IsNotExist(err) {
		info, err := os.Stat(realRoot)
		if err != nil {
			return "", fmt.Errorf("stat %s: %w", realRoot, err)
		}
		if err := os.MkdirAll(full, info.Mode().Perm()); err != nil {
			return "", fmt.Errorf("create subPath %q: %w", sub, err)
		}
	}
	real, err := filepath.EvalSymlinks(full)
	if err != nil {
		return "", fmt.Errorf("resolve subPath %q: %w", sub, err)
	}
	if real != realRoot && !strings.HasPrefix(real, realRoot+"/") {
		return "", fmt.Errorf("subPath %q resolves outside its volume (%s)", sub, real)
	}
	return real, nil
}
