package images

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestPutGetRemoveAndRestart(t *testing.T) {
	ctx := context.Background()
	base := layerOf(t, entry{name: "bin/sh", body: "sh"})
	a := imageOf(t, "a", base, layerOf(t, entry{name: "a", body: "a"}))
	b := imageOf(t, "b", base)
	s := newTestStore(t)
	ia, err := s.Put(ctx, "localhost/kubelab/a:v1", a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "localhost/kubelab/a:latest", a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "localhost/kubelab/b:v1", b); err != nil {
		t.Fatal(err)
	}

	// A restarted kubelet sees the same store.
	s, err = NewStore(s.root, WithLogger(s.log))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := s.Get("localhost/kubelab/a:v1")
	if !ok || got.ID != ia.ID || !slices.Equal(got.LowerDirs, ia.LowerDirs) || got.Config.Cmd[0] != "a" {
		t.Fatalf("after restart Get = %+v, %v; want %+v", got, ok, ia)
	}
	if byID, ok := s.Get(ia.ID); !ok || byID.ID != ia.ID {
		t.Fatalf("Get by ID failed")
	}
	if names := got.Names(); len(names) != 3 { // one repo digest, two tags
		t.Errorf("Names = %v", names)
	}

	// Untagging keeps the image while a tag is left.
	if err := s.Remove("localhost/kubelab/a:latest"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get("localhost/kubelab/a:v1"); !ok {
		t.Fatal("image went with its first tag")
	}
	if err := s.Remove("localhost/kubelab/a:v1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get("localhost/kubelab/a:v1"); ok {
		t.Fatal("image still there after its last tag went")
	}
	// The shared base layer stays for b; a's own layer goes.
	for i, want := range []bool{false, true} {
		if _, err := os.Stat(ia.LowerDirs[i]); (err == nil) != want {
			t.Errorf("layer %s exists=%v, want %v", ia.LowerDirs[i], err == nil, want)
		}
	}
	if err := s.Remove("localhost/kubelab/a:v1"); !errors.Is(err, ErrImageNotFound) {
		t.Errorf("second Remove err = %v, want ErrImageNotFound", err)
	}
}

func TestTagMoves(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	old := imageOf(t, "old", layerOf(t, entry{name: "x", body: "1"}))
	cur := imageOf(t, "new", layerOf(t, entry{name: "x", body: "2"}))
	io, _ := s.Put(ctx, "localhost/app:v1", old)
	in, _ := s.Put(ctx, "localhost/app:v1", cur)
	got, _ := s.Get("localhost/app:v1")
	if got.ID != in.ID {
		t.Fatalf("tag points to %s, want the new image %s", got.ID, in.ID)
	}
	prev, ok := s.Get(io.ID)
	if !ok || len(prev.RepoTags) != 0 {
		t.Fatalf("old image: %+v %v, want kept untagged", prev, ok)
	}
}

func TestPullRejectsTraversalLayer(t *testing.T) {
	reg := newRegistry(t, nil)
	img := imageOf(t, "evil", layerOf(t, entry{name: "../../../../tmp/kubelab-escape", body: "x"}))
	ref := reg.push(t, "evil:v1", img)
	s := newTestStore(t)
	_, err := s.Ensure(context.Background(), ref, corev1.PullIfNotPresent, nil)
	if !errors.Is(err, ErrImagePull) || !errors.Is(err, errUnsafePath) {
		t.Fatalf("err = %v, want ErrImagePull wrapping errUnsafePath", err)
	}
	for _, d := range []string{s.layersDir(), s.tmpDir()} {
		if entries, _ := os.ReadDir(d); len(entries) != 0 {
			t.Errorf("%s not empty after a failed unpack: %v", d, entries)
		}
	}
}

func TestRestartCleansUpAndForgetsBrokenImages(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	img, err := s.Put(ctx, "localhost/app:v1", imageOf(t, "a", layerOf(t, entry{name: "a", body: "a"})))
	if err != nil {
		t.Fatal(err)
	}
	// A crash mid-unpack leaves tmp dirs; someone deletes a layer by hand.
	if err := os.MkdirAll(filepath.Join(s.tmpDir(), "layer-123", "fs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Dir(img.LowerDirs[0])); err != nil {
		t.Fatal(err)
	}
	s, err = NewStore(s.root, WithLogger(s.log))
	if err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(s.tmpDir()); len(entries) != 0 {
		t.Errorf("tmp leftovers: %v", entries)
	}
	if _, ok := s.Get("localhost/app:v1"); ok {
		t.Error("image with a missing layer still listed")
	}
}

func TestGC(t *testing.T) {
	ctx := context.Background()
	// Four images of one 10 KiB layer each; "disk" is the store's layers.
	var capacity int64 = 100 << 10
	var extra int64 // bytes used by others on the filesystem
	var s *Store
	s = newTestStore(t, WithFSUsage(func(string) (int64, int64, error) {
		var used int64
		for _, img := range s.List() {
			used += img.Size
		}
		return capacity, capacity - used - extra, nil
	}))
	clock := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return clock }
	ids := map[string]string{}
	for _, n := range []string{"oldest", "old", "new", "inuse"} {
		clock = clock.Add(time.Minute)
		body := make([]byte, 10<<10)
		copy(body, n)
		img, err := s.Put(ctx, "localhost/"+n+":v1", imageOf(t, n, layerOf(t, entry{name: "f", body: string(body)})))
		if err != nil {
			t.Fatal(err)
		}
		ids[n] = img.ID
	}
	layer := s.List()[0].Size // tar overhead makes it a bit over 10 KiB
	inUse := map[string]bool{ids["inuse"]: true}

	// Below the high threshold: nothing goes.
	extra = capacity*80/100 - 4*layer
	if freed, err := s.GC(inUse, 85, 60); err != nil || freed != 0 {
		t.Fatalf("GC below threshold = %d, %v", freed, err)
	}
	// At 90 %, with the low mark 1.5 layers below: two images must go,
	// least recently used first.
	used := capacity * 90 / 100
	extra = used - 4*layer
	low := int((used - 3*layer/2) * 100 / capacity)
	freed, err := s.GC(inUse, 85, low)
	if err != nil {
		t.Fatal(err)
	}
	if freed != 2*layer {
		t.Errorf("freed %d, want %d", freed, 2*layer)
	}
	var left []string
	for _, img := range s.List() {
		left = append(left, img.RepoTags[0])
	}
	slices.Sort(left)
	if want := []string{"localhost/inuse:v1", "localhost/new:v1"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
	// Cannot reach the target: everything unused goes, in-use stays, error.
	extra = capacity - 2*layer
	if _, err := s.GC(inUse, 85, 60); err == nil {
		t.Error("GC that cannot reach its target reported success")
	}
	if _, ok := s.Get("localhost/inuse:v1"); !ok {
		t.Error("GC removed an in-use image")
	}
	if entries, _ := os.ReadDir(s.layersDir()); len(entries) != 1 {
		t.Errorf("%d layer dirs left, want 1", len(entries))
	}
}

// TestGCKeepsPinned: on a full disk GC deletes every unused image except
// the pinned ones (the kit's busybox and testserver: no registry can give
// them back), even when that means it cannot reach its target.
func TestGCKeepsPinned(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, WithPinned("localhost/kit/busybox:v1"),
		WithFSUsage(func(string) (int64, int64, error) { return 100 << 10, 0, nil })) // 100 % used
	for _, n := range []string{"kit/busybox", "app"} {
		if _, err := s.Put(ctx, "localhost/"+n+":v1", imageOf(t, n, layerOf(t, entry{name: "f", body: n}))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.GC(nil, 85, 80); err == nil {
		t.Error("GC that could not reach its target reported success")
	}
	if _, ok := s.Get("localhost/kit/busybox:v1"); !ok {
		t.Error("GC deleted the pinned image")
	}
	if _, ok := s.Get("localhost/app:v1"); ok {
		t.Error("GC kept an unused, unpinned image on a full disk")
	}
}
