package volumes

import (
	"github.com/moby/sys/mountinfo"

	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// Mounter does the privileged part of volume setup. The real one uses
// mount(2); tests substitute a fake so that everything else runs as a
// normal user.
type Mounter interface {
	// MountTmpfs mounts a fresh tmpfs on dir; sizeBytes 0 means the kernel
	// default (half of RAM).
	MountTmpfs(dir string, sizeBytes int64) error
	Unmount(dir string) error
	// MountPoints lists mount points at or below dir.
	MountPoints(dir string) ([]string, error)
}

// SystemMounter mounts for real (needs CAP_SYS_ADMIN).
type SystemMounter struct{}

func (SystemMounter) MountTmpfs(dir string, sizeBytes int64) error {
	opts := "mode=0755"
	if sizeBytes > 0 {
		opts += ",size=" + strconv.FormatInt(sizeBytes, 10)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

func (SystemMounter) Unmount(dir string) error {
	if err := syscall.Unmount(dir, 0); err != nil {
		if err != syscall.EBUSY {
			return fmt.Errorf("unmount %s: %w", dir, err)
		}
		// Still held (a container's mount namespace may pin it): detach so
		// the path is free now and the kernel frees the tmpfs later.
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s (detach): %w", dir, err)
		}
	}
	return nil
}

func (SystemMounter) MountPoints(dir string) ([]string, error) {
	infos, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		return !within(m.Mountpoint, dir), false
	})
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	out := make([]string, 0, len(infos))
	for _, m := range infos {
		out = append(out, m.Mountpoint)
	}
	return out, nil
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	dir = strings.TrimSuffix(dir, "/")
	return p == dir || strings.HasPrefix(p, dir+"/")
}
