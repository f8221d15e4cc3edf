package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// fakeImageHost is a fakeHost with an image store: LoadImages records the
// archive's content and answers loaded/err.
type fakeImageHost struct {
	fakeHost
	spool  string
	loaded []string
	err    error

	mu       sync.Mutex
	received []string // archive contents, in call order
	paths    []string // the spool files LoadImages was given
}

func (h *fakeImageHost) ImageSpoolDir() string { return h.spool }

func (h *fakeImageHost) LoadImages(_ context.Context, path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.received = append(h.received, string(data))
	h.paths = append(h.paths, path)
	h.mu.Unlock()
	return h.loaded, h.err
}

func (h *fakeImageHost) Images() []ImageInfo {
	return []ImageInfo{{Names: []string{"localhost/kubelab/busybox:v1"}, ID: "sha256:abc", Size: 1234}}
}

func post(t *testing.T, c *http.Client, url, body string) (int, string) {
	t.Helper()
	resp, err := c.Post(url, "application/x-tar", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: reading body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func TestLoadImages(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		loaded   []string
		err      error
		wantCode int
		wantBody string
	}{
		{"loaded", "archive bytes", []string{"docker.io/library/nginx:1.27"}, nil, http.StatusOK, `{"loaded":["docker.io/library/nginx:1.27"]}`},
		{"nothing named", "archive bytes", nil, nil, http.StatusOK, `{"loaded":[]}`},
		{"bad archive", "not a tar", nil, errors.New("load x: neither a docker save archive"), http.StatusBadRequest, "neither a docker save archive"},
		{"partly loaded", "archive", []string{"a:1"}, errors.New("image 1: broken layer"), http.StatusBadRequest, "loaded before the error: [a:1]"},
		{"disk full", "archive", nil, fmt.Errorf("unpack: %w", syscall.ENOSPC), http.StatusInsufficientStorage, "no space left"},
		{"empty body", "", nil, nil, http.StatusBadRequest, "request body is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &fakeImageHost{spool: t.TempDir(), loaded: tt.loaded, err: tt.err}
			base, p := startServer(t, h)
			code, body := post(t, p.client(t, true), base+"/images/load", tt.body)
			if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("POST /images/load = %d %q, want %d containing %q", code, body, tt.wantCode, tt.wantBody)
			}
			if tt.body != "" && (len(h.received) != 1 || h.received[0] != tt.body) {
				t.Errorf("LoadImages saw archives %q, want [%q]", h.received, tt.body)
			}
			for _, p := range h.paths {
				if !strings.HasPrefix(p, h.spool) {
					t.Errorf("archive spooled to %s, not under ImageSpoolDir %s", p, h.spool)
				}
			}
			if left, _ := os.ReadDir(h.spool); len(left) != 0 {
				t.Errorf("spool directory not cleaned up: %v", left)
			}
		})
	}
}

func TestListImages(t *testing.T) {
	base, p := startServer(t, &fakeImageHost{spool: t.TempDir()})
	code, body := get(t, p.client(t, true), base+"/images")
	var list []ImageInfo
	if err := json.Unmarshal([]byte(body), &list); err != nil || code != http.StatusOK {
		t.Fatalf("GET /images: %d %q %v", code, body, err)
	}
	if len(list) != 1 || list[0].ID != "sha256:abc" || list[0].Size != 1234 || list[0].Names[0] != "localhost/kubelab/busybox:v1" {
		t.Errorf("GET /images = %+v", list)
	}
}

func TestImagesAuthAndNotImplemented(t *testing.T) {
	withImages, p := startServer(t, &fakeImageHost{spool: t.TempDir()})
	without, q := startServer(t, &fakeHost{})
	tests := []struct {
		name     string
		base     string
		p        *testPKI
		withCert bool
		method   string
		want     int
	}{
		{"anonymous list", withImages, p, false, http.MethodGet, http.StatusUnauthorized},
		{"anonymous load", withImages, p, false, http.MethodPost, http.StatusUnauthorized},
		{"list without ImageHost", without, q, true, http.MethodGet, http.StatusNotImplemented},
		{"load without ImageHost", without, q, true, http.MethodPost, http.StatusNotImplemented},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/images"
			if tt.method == http.MethodPost {
				path = "/images/load"
			}
			req, err := http.NewRequest(tt.method, tt.base+path, bytes.NewReader(make([]byte, 1<<20)))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := tt.p.client(t, tt.withCert).Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tt.method, path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.method, path, resp.StatusCode, tt.want)
			}
		})
	}
}
