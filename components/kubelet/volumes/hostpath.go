package volumes

import (
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
)

// checkHostPath applies the hostPath type check (and creation) upstream
// does before a container may use the path.
func checkHostPath(h *corev1.HostPathVolumeSource) error {
	typ := corev1.HostPathUnset
	if h.Type != nil {
		typ = *h.Type
	}
	p := h.Path
	info, statErr := os.Stat(p)
	exists := statErr == nil
	is := func(m os.FileMode) bool { return exists && info.Mode().Type()&m != 0 }

	switch typ {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if !exists {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return fmt.Errorf("hostPath: create directory %s: %w", p, err)
			}
			return nil
		}
		fallthrough
	case corev1.HostPathDirectory:
		if !exists || !info.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", p)
		}
	case corev1.HostPathFileOrCreate:
		if !exists {
			// Like upstream, the parent directory is not created.
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return fmt.Errorf("hostPath: create file %s: %w", p, err)
			}
			return f.Close()
		}
		fallthrough
	case corev1.HostPathFile:
		if !exists || !info.Mode().IsRegular() {
			return fmt.Errorf("hostPath type check failed: %s is not a file", p)
		}
	case corev1.HostPathSocket:
		if !is(os.ModeSocket) {
			return fmt.Errorf("hostPath type check failed: %s is not a socket file", p)
		}
	case corev1.HostPathCharDev:
		if !is(os.ModeCharDevice) {
			return fmt.Errorf("hostPath type check failed: %s is not a character device", p)
		}
	case corev1.HostPathBlockDev:
		if !exists || info.Mode().Type() != os.ModeDevice {
			return fmt.Errorf("hostPath type check failed: %s is not a block device", p)
		}
	default:
		return fmt.Errorf("hostPath %s: unknown type %q", p, typ)
	}
	return nil
}
