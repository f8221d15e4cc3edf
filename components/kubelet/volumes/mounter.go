package volumes

import (
	"bufio"
	"fmt"
	"os"
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
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		if mp := unescapeMountPath(fields[4]); within(mp, dir) {
			out = append(out, mp)
		}
	}
	return out, sc.Err()
}

// unescapeMountPath decodes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	dir = strings.TrimSuffix(dir, "/")
	return p == dir || strings.HasPrefix(p, dir+"/")
}
