package images

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Put imports an in-memory image (the kit's own builds) under ref.
func (s *Store) Put(ctx context.Context, ref string, img v1.Image) (*Image, error) {
	r, err := parseReference(ref)
	if err != nil {
		return nil, &Error{Ref: ref, Kind: ErrInvalidImageName, Err: err}
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("put image %q: manifest digest: %w", ref, err)
	}
	rec, _, err := s.importImage(ctx, img, []reference{r}, digest)
	if err != nil {
		return nil, fmt.Errorf("put image %q: %w", ref, err)
	}
	return s.imageFor(rec, r.norm)
}

// importStats says what an import did, for the pull log line.
type importStats struct {
	layers, unpacked int
	unpackedBytes    int64
}

// importImage unpacks img's missing layers, stores its config and records
// it under refs (tags move from whatever image they named before; digest
// references just point here). top is the digest it is known by remotely:
// the manifest's, or the index's for a multi-platform pull.
func (s *Store) importImage(ctx context.Context, img v1.Image, refs []reference, top v1.Hash) (*record, importStats, error) {
	var st importStats
	cfgName, err := img.ConfigName()
	if err != nil {
		return nil, st, fmt.Errorf("config digest: %w", err)
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return nil, st, fmt.Errorf("read config: %w", err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, st, fmt.Errorf("parse config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, st, fmt.Errorf("list layers: %w", err)
	}
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		return nil, st, fmt.Errorf("manifest has %d layers, config %d diffIDs", len(layers), len(cfg.RootFS.DiffIDs))
	}
	diffIDs := make([]string, len(layers))
	for i, d := range cfg.RootFS.DiffIDs {
		diffIDs[i] = d.String()
	}
	s.markPending(diffIDs, 1)
	defer s.markPending(diffIDs, -1)

	var size int64
	for i, l := range layers {
		n, unpacked, err := s.ensureLayer(ctx, cfg.RootFS.DiffIDs[i], l)
		if err != nil {
			return nil, st, err
		}
		size += n
		st.layers++
		if unpacked {
			st.unpacked++
			st.unpackedBytes += n
		}
	}
	id := cfgName.String()
	if err := writeFileAtomic(s.configPath(id), rawCfg); err != nil {
		return nil, st, fmt.Errorf("store config: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	rec := s.idx.Images[id]
	if rec == nil {
		rec = &record{ID: id, Stored: now}
		s.idx.Images[id] = rec
	}
	rec.ManifestDigest = top.String()
	rec.Layers = diffIDs
	rec.Size = size
	rec.LastUsed = now
	s.configs[id] = cfg
	for _, r := range refs {
		if r.digest == "" {
			if old := s.idx.Refs[r.norm]; old != "" && old != id {
				s.idx.untag(r.norm) // the tag moved: the old image keeps its digests
			}
			s.idx.Refs[r.norm] = id
			rec.RepoTags = appendNew(rec.RepoTags, r.norm)
		}
		d := r.repo + "@" + top.String()
		s.idx.Refs[d] = id
		rec.RepoDigests = appendNew(rec.RepoDigests, d)
		if r.digest != "" && r.norm != d {
			s.idx.Refs[r.norm] = id // a digest ref to a child manifest of an index
		}
	}
	if err := s.saveLocked(); err != nil {
		return nil, st, err
	}
	return rec, st, nil
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func (s *Store) markPending(diffIDs []string, delta int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range diffIDs {
		s.pending[d] += delta
		if s.pending[d] <= 0 {
			delete(s.pending, d)
		}
	}
}

// imageFor builds the Image of a record just written.
func (s *Store) imageFor(rec *record, ref string) (*Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.imageLocked(rec, ref)
}
