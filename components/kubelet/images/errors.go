package images

import (
	"errors"
	"fmt"
)

// Sentinels for errors.Is. Their text is the container waiting reason the
// kubelet reports, so Reason(err) can hand them straight to the pod status.
var (
	// ErrImagePull: the image could not be fetched (network, auth, unknown
	// tag, bad content).
	ErrImagePull = errors.New("ErrImagePull")
	// ErrImageNeverPull: policy Never and the image is not in the store.
	ErrImageNeverPull = errors.New("ErrImageNeverPull")
	// ErrInvalidImageName: the reference does not parse.
	ErrInvalidImageName = errors.New("InvalidImageName")
	// ErrImageNotFound: Remove (or a lookup) named an image the store does
	// not hold. Not a waiting reason.
	ErrImageNotFound = errors.New("image not found")
)

// Error ties a failure to the image reference it concerns. It unwraps to
// both its Kind (one of the sentinels) and its cause, so errors.Is works
// for either.
type Error struct {
	Ref  string
	Kind error
	Err  error
}

func (e *Error) Error() string {
	switch e.Kind {
	case ErrImageNeverPull:
		return fmt.Sprintf("container image %q is not present with pull policy of Never", e.Ref)
	case ErrInvalidImageName:
		return fmt.Sprintf("failed to parse image reference %q: %v", e.Ref, e.Err)
	case ErrImagePull:
		return fmt.Sprintf("failed to pull image %q: %v", e.Ref, e.Err)
	}
	return fmt.Sprintf("image %q: %v", e.Ref, e.Err)
}

func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Reason is the container waiting reason for an error from Ensure or Pull:
// "ErrImageNeverPull", "InvalidImageName", or "ErrImagePull" for anything
// else (including errors that are not ours).
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrImageNeverPull):
		return ErrImageNeverPull.Error()
	case errors.Is(err, ErrInvalidImageName):
		return ErrInvalidImageName.Error()
	}
	return ErrImagePull.Error()
}
