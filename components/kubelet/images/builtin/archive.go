package builtin

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Options says where the inputs are. Empty fields are found with
// FindBusybox and FindTestServerBinary.
type Options struct {
	BusyboxPath      string
	TestServerBinary string
}

// All builds every builtin image, keyed by reference (BusyboxRef,
// TestServerRef). The busybox layer is built once and shared.
func All(opts Options) (map[string]v1.Image, error) {
	var err error
	if opts.BusyboxPath == "" {
		if opts.BusyboxPath, err = FindBusybox(); err != nil {
			return nil, err
		}
	}
	if opts.TestServerBinary == "" {
		if opts.TestServerBinary, err = FindTestServerBinary(); err != nil {
			return nil, err
		}
	}
	base, arch, err := busyboxLayer(opts.BusyboxPath)
	if err != nil {
		return nil, err
	}
	busybox, err := assemble(arch, v1.Config{Cmd: []string{"sh"}, Env: []string{defaultPath}}, base)
	if err != nil {
		return nil, err
	}
	ts, err := testServerImage(base, arch, opts.TestServerBinary)
	if err != nil {
		return nil, err
	}
	return map[string]v1.Image{BusyboxRef: busybox, TestServerRef: ts}, nil
}

// assemble stacks layers on the empty image and sets a fixed config.
func assemble(arch string, cfg v1.Config, layers ...mutate.Addendum) (v1.Image, error) {
	img, err := mutate.Append(empty.Image, layers...)
	if err != nil {
		return nil, fmt.Errorf("append layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = arch
	cf.OS = "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config = cfg
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("set config: %w", err)
	}
	return img, nil
}

// WriteArchive writes images to path as one `docker save`-format tarball
// (manifest.json with RepoTags), which `kubelab image load` and `docker
// load` both read. It writes a temporary file and renames it, so path never
// holds half an archive.
func WriteArchive(path string, images map[string]v1.Image) error {
	refs := make(map[name.Reference]v1.Image, len(images))
	for ref, img := range images {
		r, err := name.ParseReference(ref)
		if err != nil {
			return fmt.Errorf("image reference %q: %w", ref, err)
		}
		refs[r] = img
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write archive %s: %w", path, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tarball.MultiRefWriteToFile(tmp.Name(), refs); err != nil {
		return fmt.Errorf("write archive %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write archive %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write archive %s: %w", path, err)
	}
	return nil
}
