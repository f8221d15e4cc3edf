package cluster

import (
	"github.com/moby/sys/mountinfo"

	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// What a kubelet leaves behind on purpose — pods keep running across a
// kubelet restart — and `cluster delete` must remove: mounts under its
// root dir (pinned pod namespaces, overlay root filesystems, volumes) and
// cgroups under kubelab/<cluster>. This file finds them.

// mountInfo is one line of /proc/self/mountinfo.
type mountInfo struct {
	Root, MountPoint, FSType, Source, SuperOptions string
}

// parseMountInfo reads /proc/<pid>/mountinfo (moby's parser: escapes
// such as \040 for a space are undone).
func parseMountInfo(r io.Reader) ([]mountInfo, error) {
	infos, err := mountinfo.GetMountsFromReader(r, nil)
	if err != nil {
		return nil, fmt.Errorf("parse mountinfo: %w", err)
	}
	out := make([]mountInfo, 0, len(infos))
	for _, m := range infos {
		out = append(out, mountInfo{Root: m.Root, MountPoint: m.Mountpoint, FSType: m.FSType, Source: m.Source, SuperOptions: m.VFSOptions})
	}
	return out, nil
}

func readMountInfo() ([]mountInfo, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	defer f.Close()
	return parseMountInfo(f)
}

// mountsUnder lists the mount points at or below dir, deepest first, and
// a point mounted several times as often as it is mounted (later mounts
// are on top, so they come first), ready to unmount in order.
func mountsUnder(mounts []mountInfo, dir string) []string {
	dir = filepath.Clean(dir)
	type entry struct {
		path  string
		order int
	}
	var es []entry
	for i, m := range mounts {
		if m.MountPoint == dir || strings.HasPrefix(m.MountPoint, dir+"/") {
			es = append(es, entry{m.MountPoint, i})
		}
	}
	slices.SortStableFunc(es, func(a, b entry) int {
		if da, db := strings.Count(a.path, "/"), strings.Count(b.path, "/"); da != db {
			return db - da
		}
		return b.order - a.order
	})
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.path
	}
	return out
}

// unmountUnder detaches every mount at or below dir (MNT_DETACH: a mount
// still in use by a dying process goes away when it lets go). It returns
// the mount points it unmounted.
func unmountUnder(dir string) ([]string, error) {
	mounts, err := readMountInfo()
	if err != nil {
		return nil, err
	}
	var done []string
	var errs []error
	for _, p := range mountsUnder(mounts, dir) {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
			continue
		}
		done = append(done, p)
	}
	return done, errors.Join(errs...)
}

// nsfsInodes returns the namespace inodes of the namespace files pinned
// at or below dir (mountinfo shows them as root "net:[4026532000]").
func nsfsInodes(mounts []mountInfo, dir string) []uint64 {
	var out []uint64
	for _, m := range mounts {
		if m.FSType != "nsfs" || (m.MountPoint != dir && !strings.HasPrefix(m.MountPoint, dir+"/")) {
			continue
		}
		r := strings.TrimSuffix(strings.TrimPrefix(m.Root, "net:["), "]")
		if r == m.Root {
			continue // not a network namespace
		}
		if ino, err := strconv.ParseUint(r, 10, 64); err == nil {
			out = append(out, ino)
		}
	}
	return out
}

// cgroupClusterDirs lists the directories a cluster's cgroups may be in:
// for each mounted cgroup hierarchy (v1: one per controller; v2: the
// unified one) and each parent cgroup the kubelets could have nested
// under, <mount>/<parent>/<root>. Only existing directories are returned.
func cgroupClusterDirs(mounts []mountInfo, parents []string, root string) []string {
	parents = append(slices.Clone(parents), "/")
	seen := map[string]bool{}
	var out []string
	for _, m := range mounts {
		if m.FSType != "cgroup" && m.FSType != "cgroup2" {
			continue
		}
		for _, p := range parents {
			// Inside a cgroup namespace the mount's root is not "/", and
			// /proc/self/cgroup paths are relative to the hierarchy's root.
			rel := p
			if m.Root != "/" {
				if !strings.HasPrefix(p, m.Root) {
					continue
				}
				rel = strings.TrimPrefix(p, m.Root)
			}
			dir := filepath.Join(m.MountPoint, rel, root)
			if seen[dir] {
				continue
			}
			seen[dir] = true
			if st, err := os.Stat(dir); err == nil && st.IsDir() {
				out = append(out, dir)
			}
		}
	}
	return out
}

// dirTreeDeepestFirst lists root and every directory below it, children
// before their parents: the order rmdir needs.
func dirTreeDeepestFirst(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	slices.SortStableFunc(dirs, func(a, b string) int {
		return strings.Count(b, "/") - strings.Count(a, "/")
	})
	return dirs, err
}

// thawFreezers lets frozen (paused) tasks run again so SIGKILL reaches
// them: a task in a FROZEN v1 freezer cgroup cannot die.
func thawFreezers(dirs []string) {
	for _, root := range dirs {
		tree, _ := dirTreeDeepestFirst(root)
		for _, d := range tree {
			_ = os.WriteFile(filepath.Join(d, "freezer.state"), []byte("THAWED"), 0)
		}
	}
}

// removeCgroupTrees rmdirs every directory of each tree, deepest first (a
// cgroup directory goes away with rmdir once it has no tasks and no
// children; its files are not real files and cannot be unlinked).
func removeCgroupTrees(dirs []string) (int, error) {
	removed := 0
	var errs []error
	for _, root := range dirs {
		tree, err := dirTreeDeepestFirst(root)
		if err != nil {
			errs = append(errs, fmt.Errorf("list cgroup %s: %w", root, err))
		}
		for _, d := range tree {
			if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
				continue
			}
			removed++
		}
	}
	return removed, errors.Join(errs...)
}
