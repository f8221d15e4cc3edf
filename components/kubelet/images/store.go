package images

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/singleflight"
)

// Image is what the kubelet needs to start a container from an image and
// to report it in pod and node status.
type Image struct {
	// Ref is the normalised reference it was looked up by
	// ("docker.io/library/busybox:1.36"); for List, its first name.
	Ref string
	// ID is "sha256:<config digest>", the image's identity.
	ID string
	// ManifestDigest is the digest it was pulled or imported by.
	ManifestDigest string
	// LowerDirs are the unpacked layers, topmost first (overlayfs lowerdir
	// order). Empty for an image without layers.
	LowerDirs []string
	Config    v1.Config
	// Size is the uncompressed size of all its layers.
	Size        int64
	RepoTags    []string
	RepoDigests []string
	LastUsed    time.Time
}

// StatusImageID is the form Kubernetes (on containerd) shows in
// containerStatuses[].imageID: the repo digest for the repository of Ref,
// "docker.io/library/busybox@sha256:<manifest digest>". Images with no repo
// digest give the bare ID.
func (i *Image) StatusImageID() string {
	repo := repoOf(i.Ref)
	for _, d := range i.RepoDigests {
		if repoOf(d) == repo {
			return d
		}
	}
	if len(i.RepoDigests) > 0 {
		return i.RepoDigests[0]
	}
	return i.ID
}

// Names is node.status.images[].names: repo digests, then tags, like the
// kubelet builds it.
func (i *Image) Names() []string {
	return append(slices.Clone(i.RepoDigests), i.RepoTags...)
}

// Store is the node's image store. It is safe for concurrent use.
type Store struct {
	root        string
	log         *slog.Logger
	insecure    map[string]bool
	transport   http.RoundTripper
	platform    v1.Platform
	fsUsage     func(path string) (capacity, available int64, err error)
	pullTimeout time.Duration
	now         func() time.Time
	// pinned references are never garbage collected (see WithPinned).
	pinned []string

	// flights collapses concurrent pulls of one reference ("pull:<ref>") and
	// concurrent unpacks of one layer ("layer:<diffID>") into one.
	flights singleflight.Group

	mu      sync.Mutex
	idx     *index
	configs map[string]*v1.ConfigFile // parsed configs by image ID, loaded lazily
	// pending counts imports using a layer that is not yet in the index, so
	// a concurrent GC or Remove does not sweep it away.
	pending map[string]int
}

// Option configures a Store.
type Option func(*Store)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithInsecureRegistries lists registries ("host" or "host:port") reached
// over plain HTTP. Loopback hosts with a port and RFC 1918 addresses are
// plain HTTP already (go-containerregistry's rule).
func WithInsecureRegistries(hosts ...string) Option {
	return func(s *Store) {
		for _, h := range hosts {
			s.insecure[h] = true
		}
	}
}

// WithTransport sets the HTTP transport for registry traffic.
func WithTransport(t http.RoundTripper) Option { return func(s *Store) { s.transport = t } }

// WithPlatform selects the image from multi-platform indexes (default:
// linux and the running architecture).
func WithPlatform(p v1.Platform) Option { return func(s *Store) { s.platform = p } }

// WithPullTimeout bounds one pull (default 10 minutes).
func WithPullTimeout(d time.Duration) Option { return func(s *Store) { s.pullTimeout = d } }

// WithPinned names images garbage collection must never delete, like the
// real kubelet's pinned pause image: the kit's own images, which no
// registry can give back once they are gone.
func WithPinned(refs ...string) Option {
	return func(s *Store) { s.pinned = append(s.pinned, refs...) }
}

// WithFSUsage replaces the statfs of the store's filesystem that GC uses
// to decide how much to free (tests use it to fake a full disk).
func WithFSUsage(f func(path string) (capacity, available int64, err error)) Option {
	return func(s *Store) { s.fsUsage = f }
}

// NewStore opens (or creates) the store under root, e.g.
// <kubelet-root>/images. Half-finished unpacks from a previous run are
// removed; images whose files went missing are forgotten.
func NewStore(root string, opts ...Option) (*Store, error) {
	s := &Store{
		root:        root,
		log:         slog.Default(),
		insecure:    map[string]bool{},
		platform:    v1.Platform{OS: "linux", Architecture: runtime.GOARCH},
		fsUsage:     statfsUsage,
		pullTimeout: 10 * time.Minute,
		now:         time.Now,
		configs:     map[string]*v1.ConfigFile{},
		pending:     map[string]int{},
	}
	for _, o := range opts {
		o(s)
	}
	for _, d := range []string{root, s.layersDir(), s.configsDir(), s.tmpDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create image store %s: %w", d, err)
		}
	}
	// Anything in tmp is a layer or archive a crash interrupted.
	leftovers, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.tmpDir(), err)
	}
	for _, e := range leftovers {
		if err := os.RemoveAll(filepath.Join(s.tmpDir(), e.Name())); err != nil {
			return nil, fmt.Errorf("remove leftover %s: %w", e.Name(), err)
		}
	}
	idx, err := loadIndex(s.indexPath())
	if err != nil {
		return nil, err
	}
	s.idx = idx
	if s.dropBroken() {
		if err := s.saveLocked(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Store) layersDir() string  { return filepath.Join(s.root, "layers") }
func (s *Store) configsDir() string { return filepath.Join(s.root, "configs") }
func (s *Store) tmpDir() string     { return filepath.Join(s.root, "tmp") }
func (s *Store) indexPath() string  { return filepath.Join(s.root, "index.json") }

// layerDir holds one unpacked layer: fs/ (the lowerdir) and size.
func (s *Store) layerDir(diffID string) string {
	return filepath.Join(s.layersDir(), strings.TrimPrefix(diffID, "sha256:"))
}

func (s *Store) configPath(id string) string {
	return filepath.Join(s.configsDir(), strings.TrimPrefix(id, "sha256:")+".json")
}

// dropBroken forgets images whose config or layers are gone (someone
// cleaned the disk by hand). It reports whether it changed anything.
func (s *Store) dropBroken() bool {
	changed := false
	for id, rec := range s.idx.Images {
		missing := ""
		if _, err := os.Stat(s.configPath(id)); err != nil {
			missing = "config"
		}
		for _, l := range rec.Layers {
			if _, err := os.Stat(filepath.Join(s.layerDir(l), "fs")); err != nil {
				missing = "layer " + l
			}
		}
		if missing != "" {
			s.log.Warn("forgetting image with missing files", "image", id, "missing", missing)
			s.idx.drop(id)
			changed = true
		}
	}
	return changed
}

func (s *Store) saveLocked() error {
	data, err := json.MarshalIndent(s.idx, "", "  ")
	if err != nil {
		return fmt.Errorf("encode image index: %w", err)
	}
	if err := writeFileAtomic(s.indexPath(), data); err != nil {
		return fmt.Errorf("write image index: %w", err)
	}
	return nil
}

// Get looks an image up by reference (any spelling Normalize accepts) or by
// ID ("sha256:..."). It never touches the network.
func (s *Store) Get(ref string) (*Image, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, key := s.lookupLocked(ref)
	if rec == nil {
		return nil, false
	}
	img, err := s.imageLocked(rec, key)
	if err != nil {
		s.log.Error("read stored image", "image", ref, "err", err)
		return nil, false
	}
	return img, true
}

// lookupLocked resolves ref to a record and the key it was found by.
func (s *Store) lookupLocked(ref string) (*record, string) {
	if strings.HasPrefix(ref, "sha256:") {
		if rec := s.idx.Images[ref]; rec != nil {
			return rec, ref
		}
	}
	r, err := parseReference(ref)
	if err != nil {
		return nil, ""
	}
	return s.idx.Images[s.idx.Refs[r.norm]], r.norm
}

// imageLocked builds the Image for a record; ref is what it was asked for.
func (s *Store) imageLocked(rec *record, ref string) (*Image, error) {
	cfg, err := s.configLocked(rec.ID)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(ref, "sha256:") || ref == "" {
		ref = ""
		if names := append(slices.Clone(rec.RepoTags), rec.RepoDigests...); len(names) > 0 {
			ref = names[0]
		}
	}
	img := &Image{
		Ref:            ref,
		ID:             rec.ID,
		ManifestDigest: rec.ManifestDigest,
		Config:         cfg.Config,
		Size:           rec.Size,
		RepoTags:       slices.Clone(rec.RepoTags),
		RepoDigests:    slices.Clone(rec.RepoDigests),
		LastUsed:       rec.LastUsed,
	}
	for i := len(rec.Layers) - 1; i >= 0; i-- {
		img.LowerDirs = append(img.LowerDirs, filepath.Join(s.layerDir(rec.Layers[i]), "fs"))
	}
	return img, nil
}

func (s *Store) configLocked(id string) (*v1.ConfigFile, error) {
	if cfg, ok := s.configs[id]; ok {
		return cfg, nil
	}
	f, err := os.Open(s.configPath(id))
	if err != nil {
		return nil, fmt.Errorf("open config of %s: %w", id, err)
	}
	defer f.Close()
	cfg, err := v1.ParseConfigFile(f)
	if err != nil {
		return nil, fmt.Errorf("parse config of %s: %w", id, err)
	}
	s.configs[id] = cfg
	return cfg, nil
}

// List returns every image, most recently used first.
func (s *Store) List() []Image {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Image, 0, len(s.idx.Images))
	for _, rec := range s.idx.Images {
		img, err := s.imageLocked(rec, "")
		if err != nil {
			s.log.Error("read stored image", "image", rec.ID, "err", err)
			continue
		}
		out = append(out, *img)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].LastUsed.Equal(out[j].LastUsed) {
			return out[i].LastUsed.After(out[j].LastUsed)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Remove untags ref; when ref is an image ID, or the image's last tag, the
// image goes, and so do layers no other image uses.
func (s *Store) Remove(ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, key := s.lookupLocked(ref)
	if rec == nil {
		return fmt.Errorf("remove image %q: %w", ref, ErrImageNotFound)
	}
	if key != rec.ID {
		s.idx.untag(key)
	}
	if key == rec.ID || len(rec.RepoTags) == 0 {
		s.idx.drop(rec.ID)
		delete(s.configs, rec.ID)
		if err := os.Remove(s.configPath(rec.ID)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove image %q config: %w", ref, err)
		}
	}
	if err := s.saveLocked(); err != nil {
		return fmt.Errorf("remove image %q: %w", ref, err)
	}
	if _, err := s.sweepLocked(); err != nil {
		return fmt.Errorf("remove image %q: %w", ref, err)
	}
	s.log.Info("removed image", "image", ref, "id", rec.ID)
	return nil
}

// touch records that an image was just used (persisted with the next index
// write; losing it in a crash only makes GC's LRU order slightly stale).
func (s *Store) touch(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := s.idx.Images[id]; rec != nil {
		rec.LastUsed = s.now()
	}
}
