package images

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Annotations that name an image inside an OCI layout.
const (
	annotationRefName        = "org.opencontainers.image.ref.name" // often only the tag
	annotationContainerdName = "io.containerd.image.name"          // the full reference
)

// Load imports every image of an archive: a `docker save` tarball
// (manifest.json, tags from RepoTags) or an OCI image-layout tar
// (index.json, names from the io.containerd.image.name or
// org.opencontainers.image.ref.name annotations). Gzipped archives work
// too. It returns the normalised references loaded; an image with no name
// is returned as its ID.
func (s *Store) Load(ctx context.Context, archivePath string) ([]string, error) {
	open := archiveOpener(archivePath)
	names, err := topLevelNames(open)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", archivePath, err)
	}
	var refs []string
	switch {
	case names["manifest.json"]: // docker save (Docker 25+ also writes index.json)
		refs, err = s.loadDocker(ctx, open)
	case names["index.json"] && names["oci-layout"]:
		refs, err = s.loadOCI(ctx, open)
	default:
		err = errors.New("neither a docker save archive (manifest.json) nor an OCI image layout (index.json, oci-layout)")
	}
	if err != nil {
		return refs, fmt.Errorf("load %s: %w", archivePath, err)
	}
	s.log.Info("loaded image archive", "archive", archivePath, "images", refs)
	return refs, nil
}

// archiveOpener opens the archive, gunzipping it when it is compressed.
func archiveOpener(path string) tarball.Opener {
	return func() (io.ReadCloser, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		br := bufio.NewReader(f)
		if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
			zr, err := gzip.NewReader(br)
			if err != nil {
				f.Close()
				return nil, err
			}
			return readCloser{zr, f}, nil
		}
		return readCloser{br, f}, nil
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}

func topLevelNames(open tarball.Opener) (map[string]bool, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	names := map[string]bool{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read archive: %w", err)
		}
		names[strings.TrimPrefix(hdr.Name, "./")] = true
	}
}

func (s *Store) loadDocker(ctx context.Context, open tarball.Opener) ([]string, error) {
	manifest, err := tarball.LoadManifest(open)
	if err != nil {
		return nil, fmt.Errorf("read manifest.json: %w", err)
	}
	var out []string
	for i, d := range manifest {
		var refs []reference
		for _, t := range d.RepoTags {
			r, err := parseReference(t)
			if err != nil {
				return out, fmt.Errorf("image %d: tag %q: %w", i, t, err)
			}
			refs = append(refs, r)
		}
		var tag *name.Tag
		if len(d.RepoTags) > 0 {
			t, err := name.NewTag(d.RepoTags[0])
			if err != nil {
				return out, fmt.Errorf("image %d: tag %q: %w", i, d.RepoTags[0], err)
			}
			tag = &t
		} else if len(manifest) > 1 {
			// tarball.Image can only find untagged images in one-image archives.
			s.log.Warn("skipping untagged image in multi-image archive", "config", d.Config)
			continue
		}
		img, err := tarball.Image(open, tag)
		if err != nil {
			return out, fmt.Errorf("image %d: %w", i, err)
		}
		loaded, err := s.importLoaded(ctx, img, refs, v1.Hash{})
		out = append(out, loaded...)
		if err != nil {
			return out, fmt.Errorf("image %d: %w", i, err)
		}
	}
	return out, nil
}

func (s *Store) loadOCI(ctx context.Context, open tarball.Opener) ([]string, error) {
	dir, err := os.MkdirTemp(s.tmpDir(), "archive-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := extractPlain(open, dir); err != nil {
		return nil, err
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("read OCI layout: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read index.json: %w", err)
	}
	var out []string
	for _, d := range im.Manifests {
		var refs []reference
		if n := ociName(d.Annotations); n != "" {
			r, err := parseReference(n)
			if err != nil {
				return out, fmt.Errorf("image %s: name %q: %w", d.Digest, n, err)
			}
			refs = append(refs, r)
		}
		var img v1.Image
		switch {
		case d.MediaType.IsImage():
			img, err = idx.Image(d.Digest)
		case d.MediaType.IsIndex():
			img, err = s.platformImage(idx, d)
		default:
			s.log.Warn("skipping OCI layout entry", "digest", d.Digest, "mediaType", d.MediaType)
			continue
		}
		if err != nil {
			return out, fmt.Errorf("image %s: %w", d.Digest, err)
		}
		loaded, err := s.importLoaded(ctx, img, refs, d.Digest)
		out = append(out, loaded...)
		if err != nil {
			return out, fmt.Errorf("image %s: %w", d.Digest, err)
		}
	}
	return out, nil
}

// ociName reads an image's name from its index annotations. A bare
// ref.name ("1.36", "latest") is only a tag with no repository: unnamed.
func ociName(ann map[string]string) string {
	if n := ann[annotationContainerdName]; n != "" {
		return n
	}
	if n := ann[annotationRefName]; strings.ContainsAny(n, ":/") {
		return n
	}
	return ""
}

// platformImage picks the store's platform out of a nested index (or its
// only image).
func (s *Store) platformImage(parent v1.ImageIndex, d v1.Descriptor) (v1.Image, error) {
	child, err := parent.ImageIndex(d.Digest)
	if err != nil {
		return nil, err
	}
	im, err := child.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, m := range im.Manifests {
		if m.MediaType.IsImage() && (len(im.Manifests) == 1 || (m.Platform != nil && m.Platform.Satisfies(s.platform))) {
			return child.Image(m.Digest)
		}
	}
	return nil, fmt.Errorf("no image for platform %s", s.platform.String())
}

// importLoaded imports one archive image; top is its digest in the archive
// (zero: use the image's own manifest digest).
func (s *Store) importLoaded(ctx context.Context, img v1.Image, refs []reference, top v1.Hash) ([]string, error) {
	if top == (v1.Hash{}) {
		var err error
		if top, err = img.Digest(); err != nil {
			return nil, fmt.Errorf("manifest digest: %w", err)
		}
	}
	rec, _, err := s.importImage(ctx, img, refs, top)
	if err != nil {
		return nil, err
	}
	if len(refs) == 0 {
		return []string{rec.ID}, nil
	}
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.norm
	}
	return out, nil
}

// extractPlain unpacks an OCI layout archive: only directories and regular
// files, never outside dir.
func extractPlain(open tarball.Opener, dir string) error {
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		rel, err := entryPath(hdr.Name)
		if err != nil {
			return err
		}
		if rel == "" {
			continue
		}
		parent, _ := filepath.Split(rel)
		if err := mkParents(dir, parent); err != nil {
			return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
		}
		target := filepath.Join(dir, rel)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck
			f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
		}
	}
}
