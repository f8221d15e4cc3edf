package images

import (
	"fmt"
	"os"
	"sort"

	"golang.org/x/sys/unix"
)

// statfsUsage reports the size and free space of the filesystem holding
// path, as non-root users see it (what df shows).
func statfsUsage(path string) (capacity, available int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return int64(st.Blocks) * st.Bsize, int64(st.Bavail) * st.Bsize, nil
}

// GC is the kubelet's image garbage collection: when the filesystem
// holding the store is at least highPercent used, it deletes images not in
// inUse (image IDs of the node's containers), least recently used first,
// until usage would be below lowPercent. Pinned images (WithPinned) are
// never deleted. Layers no remaining image uses are always removed. It
// returns the bytes of layers freed, and an error if it could not free
// enough.
func (s *Store) GC(inUse map[string]bool, highPercent, lowPercent int) (int64, error) {
	if highPercent <= 0 || highPercent > 100 || lowPercent < 0 || lowPercent > highPercent {
		return 0, fmt.Errorf("image gc: thresholds high=%d low=%d: want 0 <= low <= high <= 100", highPercent, lowPercent)
	}
	capacity, available, err := s.fsUsage(s.root)
	if err != nil {
		return 0, fmt.Errorf("image gc: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for id := range inUse {
		if rec := s.idx.Images[id]; rec != nil {
			rec.LastUsed = now
		}
	}
	keep := make(map[string]bool, len(inUse)+len(s.pinned))
	for id := range inUse {
		keep[id] = true
	}
	for _, ref := range s.pinned {
		if rec, _ := s.lookupLocked(ref); rec != nil {
			keep[rec.ID] = true
		}
	}
	// Layers nothing uses (a crash between unpack and index write, or a
	// failed import) go whatever the usage.
	freed, err := s.sweepLocked()
	if err != nil {
		return freed, fmt.Errorf("image gc: %w", err)
	}
	used := capacity - available
	if capacity <= 0 || used*100 < int64(highPercent)*capacity {
		return freed, s.saveLocked()
	}
	toFree := used - int64(lowPercent)*capacity/100 - freed
	var victims []*record
	for id, rec := range s.idx.Images {
		if !keep[id] {
			victims = append(victims, rec)
		}
	}
	sort.Slice(victims, func(i, j int) bool {
		if !victims[i].LastUsed.Equal(victims[j].LastUsed) {
			return victims[i].LastUsed.Before(victims[j].LastUsed)
		}
		return victims[i].ID < victims[j].ID
	})
	s.log.Info("image gc: disk usage above threshold", "usedPercent", used*100/capacity,
		"highPercent", highPercent, "bytesToFree", toFree, "candidates", len(victims))
	var gcFreed int64
	for _, rec := range victims {
		if gcFreed >= toFree {
			break
		}
		s.idx.drop(rec.ID)
		delete(s.configs, rec.ID)
		if err := os.Remove(s.configPath(rec.ID)); err != nil && !os.IsNotExist(err) {
			return freed + gcFreed, fmt.Errorf("image gc: remove %s: %w", rec.ID, err)
		}
		if err := s.saveLocked(); err != nil {
			return freed + gcFreed, fmt.Errorf("image gc: %w", err)
		}
		n, err := s.sweepLocked()
		gcFreed += n
		if err != nil {
			return freed + gcFreed, fmt.Errorf("image gc: %w", err)
		}
		s.log.Info("image gc: removed image", "id", rec.ID, "tags", rec.RepoTags, "lastUsed", rec.LastUsed, "freed", n)
	}
	if err := s.saveLocked(); err != nil {
		return freed + gcFreed, fmt.Errorf("image gc: %w", err)
	}
	if gcFreed < toFree {
		return freed + gcFreed, fmt.Errorf("image gc: wanted to free %d bytes, freed %d", toFree, gcFreed)
	}
	return freed + gcFreed, nil
}
