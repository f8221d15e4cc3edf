package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// layerSize reports an unpacked layer's size, if it is unpacked.
func (s *Store) layerSize(diffID string) (int64, bool) {
	data, err := os.ReadFile(filepath.Join(s.layerDir(diffID), "size"))
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// ensureLayer makes sure layer is unpacked, fetching its content only if it
// is not: a layer shared by many images is downloaded and unpacked once.
// It reports the layer's size and whether it had to unpack it.
func (s *Store) ensureLayer(ctx context.Context, diffID v1.Hash, layer v1.Layer) (int64, bool, error) {
	if size, ok := s.layerSize(diffID.String()); ok {
		return size, false, nil
	}
	unpacked := false
	v, err, _ := s.flights.Do("layer:"+diffID.String(), func() (any, error) {
		if size, ok := s.layerSize(diffID.String()); ok {
			return size, nil
		}
		unpacked = true
		return s.unpackLayer(ctx, diffID, layer)
	})
	if err != nil {
		return 0, false, err
	}
	return v.(int64), unpacked, nil
}

// unpackLayer streams the layer's uncompressed tar into a temporary
// directory, checks the content against diffID, and renames the directory
// into place, so a layer directory either is complete or does not exist.
func (s *Store) unpackLayer(ctx context.Context, diffID v1.Hash, layer v1.Layer) (int64, error) {
	if diffID.Algorithm != "sha256" {
		return 0, fmt.Errorf("layer %s: unsupported digest algorithm", diffID)
	}
	tmp, err := os.MkdirTemp(s.tmpDir(), "layer-")
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	defer os.RemoveAll(tmp) // no-op after the rename
	fsDir := filepath.Join(tmp, "fs")
	if err := os.Mkdir(fsDir, 0o755); err != nil {
		return 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	rc, err := layer.Uncompressed()
	if err != nil {
		return 0, fmt.Errorf("layer %s: open: %w", diffID, err)
	}
	defer rc.Close()
	h := sha256.New()
	n := &countingWriter{}
	in := io.TeeReader(&ctxReader{ctx: ctx, r: rc}, io.MultiWriter(h, n))
	if err := unpack(fsDir, in); err != nil {
		return 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	// The tar reader stops at the end-of-archive marker; the digest covers
	// the padding after it too.
	if _, err := io.Copy(io.Discard, in); err != nil {
		return 0, fmt.Errorf("layer %s: read: %w", diffID, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != diffID.Hex {
		return 0, fmt.Errorf("layer %s: content digest is sha256:%s", diffID, got)
	}
	if err := os.WriteFile(filepath.Join(tmp, "size"), []byte(strconv.FormatInt(n.n, 10)), 0o644); err != nil {
		return 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	if err := os.Rename(tmp, s.layerDir(diffID.String())); err != nil {
		if _, ok := s.layerSize(diffID.String()); ok {
			return n.n, nil // someone else finished it first
		}
		return 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	return n.n, nil
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// ctxReader makes a long unpack stop when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// sweepLocked removes layer directories no image uses (and no import in
// flight is about to use). It reports the bytes freed.
func (s *Store) sweepLocked() (int64, error) {
	used := map[string]bool{}
	for _, rec := range s.idx.Images {
		for _, l := range rec.Layers {
			used[strings.TrimPrefix(l, "sha256:")] = true
		}
	}
	for l := range s.pending {
		used[strings.TrimPrefix(l, "sha256:")] = true
	}
	entries, err := os.ReadDir(s.layersDir())
	if err != nil {
		return 0, fmt.Errorf("sweep layers: %w", err)
	}
	var freed int64
	for _, e := range entries {
		if used[e.Name()] {
			continue
		}
		size, _ := s.layerSize("sha256:" + e.Name())
		if err := os.RemoveAll(filepath.Join(s.layersDir(), e.Name())); err != nil {
			return freed, fmt.Errorf("sweep layer %s: %w", e.Name(), err)
		}
		freed += size
		s.log.Debug("removed unused layer", "diffID", "sha256:"+e.Name(), "size", size)
	}
	return freed, nil
}
