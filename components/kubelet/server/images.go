package server

// The image endpoints are kubelab's own extension of the kubelet API; the
// real kubelet has nothing like them (its images come from the container
// runtime, which `ctr images import` or `crictl` feed on the node itself).
// kubelab nodes have no separate runtime daemon to talk to, so the kubelet
// takes archives itself, over the port it already serves with client
// certificate authentication:
//
//	kubelab image load ──POST /images/load (body: the tar)──> spool file in the kubelet's root
//	                                                            ──> ImageHost.LoadImages
//	                    <── 200 {"loaded":["docker.io/library/nginx:1.27", ...]}
//	kubelab image ls   ──GET /images──> [{"names":[...],"id":"sha256:...","size":N}, ...]
//
// The API server never calls these; only a client holding a certificate
// signed by the cluster CA (the admin kubeconfig's) does.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"syscall"
	"time"
)

// ImageHost is optionally implemented by a Host with an image store; it
// backs GET /images and POST /images/load, kubelab's own extension of the
// kubelet API (see the top of this file). Without it they answer 501.
type ImageHost interface {
	// ImageSpoolDir is where an uploaded archive is written before
	// LoadImages reads it: a directory on the image store's disk (archives
	// are large, /tmp is often a small tmpfs), ideally one the kubelet
	// empties when it starts, so a crash mid-upload leaves nothing behind.
	ImageSpoolDir() string
	// LoadImages imports every image of a docker-save or OCI archive and
	// returns the references it loaded (also those loaded before an error).
	LoadImages(ctx context.Context, archivePath string) ([]string, error)
	// Images lists the images in the store.
	Images() []ImageInfo
}

// ImageInfo is one image in GET /images.
type ImageInfo struct {
	// Names are the repo digests and tags, as in node.status.images.
	Names []string `json:"names"`
	// ID is "sha256:<config digest>".
	ID string `json:"id"`
	// Size is the uncompressed size of its layers in bytes.
	Size int64 `json:"size"`
}

// LoadResult is the answer of POST /images/load.
type LoadResult struct {
	Loaded []string `json:"loaded"`
}

const imagesNotImplemented = "images are not served by this kubelet: it has no image store"

// listImages serves GET /images.
func (s *Server) listImages(w http.ResponseWriter, r *http.Request) {
	h, ok := s.opts.Host.(ImageHost)
	if !ok {
		http.Error(w, imagesNotImplemented, http.StatusNotImplemented)
		return
	}
	list := h.Images()
	if list == nil {
		list = []ImageInfo{} // "[]", not "null", for clients that range over it
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}

// loadImages serves POST /images/load: the body is spooled to a file first
// because neither archive format can be read in one pass (a docker save
// archive names its layers in manifest.json, which may come last).
//
// It answers before reading the body when it cannot load at all, so a
// client that sent "Expect: 100-continue" never uploads gigabytes for a 501.
func (s *Server) loadImages(w http.ResponseWriter, r *http.Request) {
	h, ok := s.opts.Host.(ImageHost)
	if !ok {
		http.Error(w, imagesNotImplemented, http.StatusNotImplemented)
		return
	}
	start := time.Now()
	path, n, err := spool(h.ImageSpoolDir(), r.Body)
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, errEmptyArchive) {
			code = http.StatusBadRequest
		}
		http.Error(w, err.Error(), storageStatus(err, code))
		return
	}
	defer os.Remove(path)
	slog.Info("kubelet API: image archive received", "bytes", n, "took", time.Since(start).Round(time.Millisecond), "remote", r.RemoteAddr)
	// r.Context() ends when the client goes away: a client that gave up
	// (Ctrl-C) stops the import too.
	loaded, err := h.LoadImages(r.Context(), path)
	if err != nil {
		if len(loaded) > 0 {
			err = fmt.Errorf("%w (loaded before the error: %v)", err, loaded)
		}
		http.Error(w, err.Error(), storageStatus(err, http.StatusBadRequest))
		return
	}
	if loaded == nil {
		loaded = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(LoadResult{Loaded: loaded})
}

var errEmptyArchive = errors.New("receive image archive: the request body is empty (send the archive)")

// spool copies body into a new file in dir and returns its path and size.
func spool(dir string, body io.Reader) (string, int64, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", 0, fmt.Errorf("image upload directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "upload-*.tar")
	if err != nil {
		return "", 0, fmt.Errorf("image upload file in %s: %w", dir, err)
	}
	n, err := io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", n, fmt.Errorf("receive image archive (after %d bytes): %w", n, err)
	}
	if n == 0 {
		os.Remove(f.Name())
		return "", 0, errEmptyArchive
	}
	return f.Name(), n, nil
}

// storageStatus is 507 Insufficient Storage for a full disk (the client can
// say "free space on the node"), else def.
func storageStatus(err error, def int) int {
	if errors.Is(err, syscall.ENOSPC) {
		return http.StatusInsufficientStorage
	}
	return def
}
