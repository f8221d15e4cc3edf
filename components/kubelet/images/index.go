package images

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// index is the persisted part of the store: which images exist, their
// layers, and which references name them. It is small (no configs, no
// layer contents) and rewritten whole on every change.
type index struct {
	Version int                `json:"version"`
	Images  map[string]*record `json:"images"` // by image ID
	// Refs maps every normalised tag and repo@digest to an image ID.
	Refs map[string]string `json:"refs"`
}

const indexVersion = 1

// record is one image.
type record struct {
	ID string `json:"id"` // "sha256:<config digest>"
	// ManifestDigest is what the image was pulled or imported by: the
	// index digest for multi-platform images, like Docker's RepoDigests.
	ManifestDigest string    `json:"manifestDigest"`
	Layers         []string  `json:"layers"` // diffIDs, base layer first
	Size           int64     `json:"size"`   // uncompressed bytes of all layers
	RepoTags       []string  `json:"repoTags,omitempty"`
	RepoDigests    []string  `json:"repoDigests,omitempty"`
	Stored         time.Time `json:"stored"`
	LastUsed       time.Time `json:"lastUsed"`
}

func newIndex() *index {
	return &index{Version: indexVersion, Images: map[string]*record{}, Refs: map[string]string{}}
}

func loadIndex(path string) (*index, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newIndex(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read image index: %w", err)
	}
	idx := newIndex()
	if err := json.Unmarshal(data, idx); err != nil {
		return nil, fmt.Errorf("parse image index %s: %w", path, err)
	}
	if idx.Version != indexVersion {
		return nil, fmt.Errorf("image index %s: version %d, want %d", path, idx.Version, indexVersion)
	}
	if idx.Images == nil {
		idx.Images = map[string]*record{}
	}
	if idx.Refs == nil {
		idx.Refs = map[string]string{}
	}
	return idx, nil
}

// untag removes ref from whatever image it names; it reports the image.
func (idx *index) untag(ref string) *record {
	id, ok := idx.Refs[ref]
	if !ok {
		return nil
	}
	delete(idx.Refs, ref)
	rec := idx.Images[id]
	if rec == nil {
		return nil
	}
	rec.RepoTags = slices.DeleteFunc(rec.RepoTags, func(s string) bool { return s == ref })
	rec.RepoDigests = slices.DeleteFunc(rec.RepoDigests, func(s string) bool { return s == ref })
	return rec
}

// drop forgets an image and every reference to it.
func (idx *index) drop(id string) {
	for ref, rid := range idx.Refs {
		if rid == id {
			delete(idx.Refs, ref)
		}
	}
	delete(idx.Images, id)
}

// writeFileAtomic writes data to a temporary file next to path, syncs it and
// renames it over path, so readers (and a restarted kubelet) see the old or
// the new content, never a torn one.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
