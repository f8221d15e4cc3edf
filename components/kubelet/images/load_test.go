package images

import (
	"archive/tar"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestLoadDockerSave(t *testing.T) {
	a := imageOf(t, "a", layerOf(t, entry{name: "a", body: "a"}))
	b := imageOf(t, "b", layerOf(t, entry{name: "b", body: "b"}))
	tag := func(s string) name.Tag {
		tg, err := name.NewTag(s)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	archive := filepath.Join(t.TempDir(), "images.tar")
	err := tarball.MultiWriteToFile(archive, map[name.Tag]v1.Image{
		tag("busybox:1.36"):                 a,
		tag("localhost/kubelab/busybox:v1"): a,
		tag("localhost/kubelab/agnhost:v1"): b,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := newTestStore(t)
	refs, err := s.Load(context.Background(), archive)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(refs)
	want := []string{"docker.io/library/busybox:1.36", "localhost/kubelab/agnhost:v1", "localhost/kubelab/busybox:v1"}
	if !slices.Equal(refs, want) {
		t.Fatalf("Load = %v, want %v", refs, want)
	}
	if n := len(s.List()); n != 2 {
		t.Errorf("%d images, want 2", n)
	}
	got, ok := s.Get("busybox:1.36")
	if !ok {
		t.Fatal("busybox:1.36 not found after load")
	}
	if _, err := os.Stat(filepath.Join(got.LowerDirs[0], "a")); err != nil {
		t.Errorf("layer content: %v", err)
	}
	if len(got.RepoTags) != 2 || got.Config.Cmd[0] != "a" {
		t.Errorf("image = %+v", got)
	}
	// A loaded local-only image satisfies Always without a registry.
	if _, err := s.Ensure(context.Background(), "localhost/kubelab/agnhost:v1", "Always", nil); err != nil {
		t.Fatal(err)
	}
}

func TestLoadOCILayoutArchive(t *testing.T) {
	a := imageOf(t, "a", layerOf(t, entry{name: "a", body: "a"}))
	b := imageOf(t, "b", layerOf(t, entry{name: "b", body: "b"}))
	c := imageOf(t, "c", layerOf(t, entry{name: "c", body: "c"}))
	dir := t.TempDir()
	p, err := layout.Write(filepath.Join(dir, "oci"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		img v1.Image
		ann map[string]string
	}{
		{a, map[string]string{annotationRefName: "localhost/kubelab/a:v1"}},
		{b, map[string]string{annotationRefName: "v2", annotationContainerdName: "docker.io/library/b:v2"}},
		{c, map[string]string{annotationRefName: "latest"}}, // tag only: unnamed
	} {
		if err := p.AppendImage(x.img, layout.WithAnnotations(x.ann)); err != nil {
			t.Fatal(err)
		}
	}
	// A nested, multi-platform index too.
	d := imageOf(t, "d", layerOf(t, entry{name: "d", body: "d"}))
	ii := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{
		Add:        d,
		Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}},
	})
	if err := p.AppendIndex(ii, layout.WithAnnotations(map[string]string{annotationRefName: "localhost/kubelab/d:v1"})); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "oci.tar")
	tarDir(t, filepath.Join(dir, "oci"), archive)

	s := newTestStore(t, WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
	refs, err := s.Load(context.Background(), archive)
	if err != nil {
		t.Fatal(err)
	}
	cID, _ := c.ConfigName()
	want := []string{"localhost/kubelab/a:v1", "docker.io/library/b:v2", cID.String(), "localhost/kubelab/d:v1"}
	if !slices.Equal(refs, want) {
		t.Fatalf("Load = %v, want %v", refs, want)
	}
	got, ok := s.Get("localhost/kubelab/d:v1")
	if !ok || got.Config.Cmd[0] != "d" {
		t.Fatalf("d: %+v %v", got, ok)
	}
	iiDigest, _ := ii.Digest()
	if got.StatusImageID() != "localhost/kubelab/d@"+iiDigest.String() {
		t.Errorf("StatusImageID = %q, want the index digest", got.StatusImageID())
	}
	if entries, _ := os.ReadDir(s.tmpDir()); len(entries) != 0 {
		t.Errorf("tmp not cleaned: %v", entries)
	}
}

func tarDir(t *testing.T, src, dst string) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = rel
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(tw, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRejectsOtherArchives(t *testing.T) {
	archive := filepath.Join(t.TempDir(), "x.tar")
	if err := os.WriteFile(archive, tarBytes(t, entry{name: "hello", body: "x"}), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := newTestStore(t).Load(context.Background(), archive); err == nil {
		t.Fatal("Load of a plain tar succeeded")
	}
}
