package images

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"
)

// User resolves a user spec ("", "1000", "nobody", "app:staff",
// "1000:1000"), normally Config.User or runAsUser, against the image's
// /etc/passwd and /etc/group, as the container would see them through
// overlayfs. Numeric specs work even when those files are absent; an empty
// spec is root. It gives uid, gid and the supplementary groups.
func (i *Image) User(spec string) (uid, gid uint32, groups []uint32, err error) {
	passwd, err := i.openFile("etc/passwd")
	if err != nil {
		return 0, 0, nil, err
	}
	if passwd != nil {
		defer passwd.Close()
	}
	group, err := i.openFile("etc/group")
	if err != nil {
		return 0, 0, nil, err
	}
	if group != nil {
		defer group.Close()
	}
	// GetExecUser treats a nil reader as "no such file"; an *os.File typed
	// nil inside the interface would not be nil.
	var pr, gr io.Reader
	if passwd != nil {
		pr = passwd
	}
	if group != nil {
		gr = group
	}
	u, err := user.GetExecUser(spec, &user.ExecUser{Home: "/"}, pr, gr)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("image %s: user %q: %w", i.Ref, spec, err)
	}
	for _, g := range u.Sgids {
		groups = append(groups, uint32(g))
	}
	return uint32(u.Uid), uint32(u.Gid), groups, nil
}

// openFile opens rel ("etc/passwd") from the topmost layer that decides
// it, following overlayfs' rules: a whiteout hides it, an opaque parent
// directory hides the layers below. It returns nil, nil when the file does
// not exist, and never follows symlinks (they would resolve on the host).
func (i *Image) openFile(rel string) (*os.File, error) {
	parts := strings.Split(rel, "/")
	for _, layer := range i.LowerDirs {
		stop := false // an opaque directory or a whiteout on the way ends the search
		cur := layer
		for n, part := range parts {
			cur = filepath.Join(cur, part)
			fi, err := os.Lstat(cur)
			if errors.Is(err, fs.ErrNotExist) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("image %s: %w", i.Ref, err)
			}
			if isWhiteout(fi) {
				return nil, nil
			}
			if n == len(parts)-1 {
				if !fi.Mode().IsRegular() {
					return nil, nil
				}
				return os.Open(cur)
			}
			if !fi.IsDir() {
				return nil, nil // a file or symlink where a directory should be
			}
			if isOpaque(cur) {
				stop = true
			}
		}
		if stop {
			return nil, nil
		}
	}
	return nil, nil
}

func isWhiteout(fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

func isOpaque(dir string) bool {
	buf := make([]byte, 1)
	n, err := unix.Getxattr(dir, overlayOpaqueKey, buf)
	return err == nil && n == 1 && buf[0] == 'y'
}
