package images

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// OCI whiteout spellings (image-spec layer.md) and their overlayfs forms.
const (
	whiteoutPrefix   = ".wh."
	whiteoutMeta     = ".wh..wh."     // aufs bookkeeping, never content
	whiteoutOpaque   = ".wh..wh..opq" // "hide everything below in this dir"
	overlayOpaqueKey = "trusted.overlay.opaque"
	paxXattrPrefix   = "SCHILY.xattr."
)

// errUnsafePath marks a layer entry that tries to write outside the layer.
var errUnsafePath = errors.New("unsafe path in layer")

// unpack applies one layer's tar stream to dir, an empty directory that
// becomes an overlayfs lower layer. Whiteouts become what overlayfs reads
// as whiteouts; nothing is ever written outside dir: ".." entries are
// rejected, and no entry is written through a symlink (every parent
// directory is checked with lstat, and files are created O_EXCL).
func unpack(dir string, r io.Reader) error {
	tr := tar.NewReader(r)
	type dirTimes struct {
		path  string
		mtime time.Time
	}
	var dirs []dirTimes // directory mtimes are set last: adding children changes them
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read layer tar: %w", err)
		}
		rel, err := entryPath(hdr.Name)
		if err != nil {
			return err
		}
		if rel == "" { // the layer's root directory itself
			if hdr.Typeflag == tar.TypeDir {
				if err := applyMetadata(dir, hdr); err != nil {
					return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
				}
			}
			continue
		}
		parent, base := path.Split(rel)
		if err := mkParents(dir, parent); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		target := filepath.Join(dir, rel)
		switch {
		case base == whiteoutOpaque:
			if err := unix.Setxattr(filepath.Join(dir, parent), overlayOpaqueKey, []byte("y"), 0); err != nil {
				return fmt.Errorf("layer entry %q: mark opaque: %w", hdr.Name, err)
			}
			continue
		case strings.HasPrefix(base, whiteoutMeta):
			continue
		case strings.HasPrefix(base, whiteoutPrefix):
			if err := whiteout(filepath.Join(dir, parent, strings.TrimPrefix(base, whiteoutPrefix))); err != nil {
				return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
			}
			continue
		}
		if err := writeEntry(dir, target, hdr, tr); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		if hdr.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirTimes{target, hdr.ModTime})
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		setTimes(dirs[i].path, dirs[i].mtime)
	}
	return nil
}

// entryPath turns a tar name into a clean path relative to the layer root
// ("" for the root), refusing anything that climbs out of it.
func entryPath(name string) (string, error) {
	p := path.Clean(strings.TrimLeft(name, "/"))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("%w: %q", errUnsafePath, name)
	}
	if p == "." {
		return "", nil
	}
	return p, nil
}

// mkParents makes sure every directory on rel (relative to dir) is a real
// directory, creating missing ones. A symlink on the way is refused: writing
// through it could land outside the layer.
func mkParents(dir, rel string) error {
	cur := dir
	for _, part := range strings.Split(strings.Trim(rel, "/"), "/") {
		if part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(cur, 0o755); err != nil {
				return err
			}
		case err != nil:
			return err
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: parent %q is a symlink", errUnsafePath, strings.TrimPrefix(cur, dir))
		case !fi.IsDir():
			return fmt.Errorf("parent %q is not a directory", strings.TrimPrefix(cur, dir))
		}
	}
	return nil
}

// whiteout hides name in the layers below: a 0/0 character device is an
// overlayfs whiteout. If this layer itself has the name, that entry already
// hides the lower one and the whiteout is redundant.
func whiteout(target string) error {
	if _, err := os.Lstat(target); err == nil {
		return nil
	}
	if err := unix.Mknod(target, unix.S_IFCHR|0o000, 0); err != nil {
		return fmt.Errorf("create whiteout %s (needs CAP_MKNOD): %w", target, err)
	}
	return nil
}

// writeEntry creates one file, directory, link or node.
func writeEntry(dir, target string, hdr *tar.Header, r io.Reader) error {
	if fi, err := os.Lstat(target); err == nil {
		// A later entry replaces an earlier one; directories merge.
		if !(fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(target, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // TypeRegA still appears in old layers
		f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	case tar.TypeSymlink:
		// The target is stored verbatim: it is resolved inside the container's
		// root at run time, and we never follow it here.
		if err := os.Symlink(hdr.Linkname, target); err != nil {
			return err
		}
	case tar.TypeLink:
		rel, err := entryPath(hdr.Linkname)
		if err != nil || rel == "" {
			return fmt.Errorf("%w: hard link to %q", errUnsafePath, hdr.Linkname)
		}
		parent, _ := path.Split(rel)
		if err := checkParents(dir, parent); err != nil {
			return err
		}
		src := filepath.Join(dir, rel)
		if fi, err := os.Lstat(src); err != nil {
			return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
		} else if fi.IsDir() {
			return fmt.Errorf("hard link target %q is a directory", hdr.Linkname)
		}
		return os.Link(src, target) // shares the inode: metadata is the target's
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := uint32(unix.S_IFIFO)
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode = unix.S_IFCHR
		case tar.TypeBlock:
			mode = unix.S_IFBLK
		}
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknod(target, mode|uint32(hdr.Mode&0o7777), int(dev)); err != nil {
			if errors.Is(err, unix.EPERM) && hdr.Typeflag != tar.TypeFifo {
				return nil // device nodes are optional: the runtime populates /dev
			}
			return fmt.Errorf("mknod: %w", err)
		}
	default:
		return nil // global headers and exotic types carry no file
	}
	return applyMetadata(target, hdr)
}

// checkParents is mkParents without creating: for hard-link sources.
func checkParents(dir, rel string) error {
	cur := dir
	for _, part := range strings.Split(strings.Trim(rel, "/"), "/") {
		if part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%w: %q is not a directory", errUnsafePath, strings.TrimPrefix(cur, dir))
		}
	}
	return nil
}

// applyMetadata sets owner, then mode (chown clears set-id bits), xattrs
// and mtime.
func applyMetadata(target string, hdr *tar.Header) error {
	if err := os.Lchown(target, hdr.Uid, hdr.Gid); err != nil &&
		!(errors.Is(err, unix.EPERM) && os.Geteuid() != 0) { // unprivileged: files stay ours
		return fmt.Errorf("chown: %w", err)
	}
	for k, v := range hdr.PAXRecords {
		key, ok := strings.CutPrefix(k, paxXattrPrefix)
		// A layer must not forge overlayfs' own markers.
		if !ok || strings.HasPrefix(key, "trusted.overlay.") {
			continue
		}
		if err := unix.Lsetxattr(target, key, []byte(v), 0); err != nil &&
			!errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("set xattr %s: %w", key, err)
		}
	}
	if hdr.Typeflag == tar.TypeSymlink {
		return nil
	}
	if err := os.Chmod(target, hdr.FileInfo().Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if hdr.Typeflag != tar.TypeDir {
		setTimes(target, hdr.ModTime)
	}
	return nil
}

// setTimes is best effort: mtimes are cosmetic for a container.
func setTimes(target string, mtime time.Time) {
	if mtime.IsZero() {
		return
	}
	ts := unix.NsecToTimespec(mtime.UnixNano())
	_ = unix.UtimesNanoAt(unix.AT_FDCWD, target, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}
