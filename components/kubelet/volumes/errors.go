package volumes

import (
	"errors"
	"fmt"
)

// VolumeError is a volume that could not be set up. Its message is the
// upstream event text: `MountVolume.SetUp failed for volume "cfg" :
// configmap "cfg" not found`.
type VolumeError struct {
	Volume string
	Err    error
}

func (e *VolumeError) Error() string {
	return fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", e.Volume, e.Err)
}
func (e *VolumeError) Unwrap() error { return e.Err }

// UnsupportedError is a volume kind kubelab does not implement
// (persistentVolumeClaim, nfs, csi, …).
type UnsupportedError struct {
	Volume string
	Kind   string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("volume %q: %s volumes are not supported by kubelab", e.Volume, e.Kind)
}

// IsUnsupported reports whether err is (or wraps) an *UnsupportedError.
func IsUnsupported(err error) bool {
	var u *UnsupportedError
	return errors.As(err, &u)
}

// ErrNoTokenSource: a projected serviceAccountToken was requested but the
// Manager has no TokenSource. The rest of the volume is still written.
var ErrNoTokenSource = errors.New("no service account token source configured (TokenRequest unavailable)")
