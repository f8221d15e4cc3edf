package builtin

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"path"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// epoch is every timestamp we write, in layers and configs, following the
// reproducible-builds convention (SOURCE_DATE_EPOCH=0). Any fixed time
// would do; a build time would change the image ID on every build.
var epoch = time.Unix(0, 0).UTC()

// entry is one file in a layer. Names are image paths without the leading
// slash ("bin/sh"), as in docker's own layer tarballs.
type entry struct {
	typ  byte  // tar.TypeDir, tar.TypeReg or tar.TypeSymlink
	mode int64 // permission bits, with the sticky bit where wanted
	link string
	data []byte
}

// tree is a layer's contents before it is serialised. A map makes adding
// idempotent; serialising sorts, so insertion order never matters.
type tree map[string]entry

func (t tree) dir(name string, mode int64) {
	t.parents(name)
	t[name] = entry{typ: tar.TypeDir, mode: mode}
}

func (t tree) file(name string, mode int64, data []byte) {
	t.parents(name)
	t[name] = entry{typ: tar.TypeReg, mode: mode, data: data}
}

func (t tree) symlink(name, target string) {
	t.parents(name)
	t[name] = entry{typ: tar.TypeSymlink, mode: 0o777, link: target}
}

// parents adds the missing parent directories of name, mode 0755, so the
// tar never relies on the extractor inventing directories (with whatever
// mode and mtime it likes).
func (t tree) parents(name string) {
	for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if _, ok := t[dir]; !ok {
			t[dir] = entry{typ: tar.TypeDir, mode: 0o755}
		}
	}
}

// tar serialises the tree: sorted names (a parent sorts before its
// children), uid/gid 0, the epoch for every time.
func (t tree) tar() ([]byte, error) {
	names := make([]string, 0, len(t))
	for name := range t {
		names = append(names, name)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range names {
		e := t[name]
		h := &tar.Header{
			Typeflag: e.typ,
			Name:     name,
			Linkname: e.link,
			Mode:     e.mode,
			Size:     int64(len(e.data)),
			ModTime:  epoch,
			Format:   tar.FormatUSTAR,
		}
		if e.typ == tar.TypeDir {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("write tar header for %s: %w", name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("write tar data for %s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close tar: %w", err)
	}
	return buf.Bytes(), nil
}

// layer turns the tree into an image layer. go-containerregistry gzips it
// (deterministically: stdlib gzip, no name or mtime in the header) and the
// caching keeps it from gzipping again for every digest or write.
func (t tree) layer() (v1.Layer, error) {
	b, err := t.tar()
	if err != nil {
		return nil, err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("make layer: %w", err)
	}
	return l, nil
}

// elfArch maps an ELF machine to the GOARCH-style name image configs use.
var elfArch = map[elf.Machine]string{
	elf.EM_X86_64:  "amd64",
	elf.EM_AARCH64: "arm64",
	elf.EM_386:     "386",
	elf.EM_ARM:     "arm",
	elf.EM_RISCV:   "riscv64",
	elf.EM_PPC64:   "ppc64le",
	elf.EM_S390:    "s390x",
}

// staticELF checks that file is a statically linked ELF executable and
// returns its architecture. Our images have no libc and no dynamic loader,
// so a dynamically linked binary would fail with a baffling "no such file or
// directory" (the missing file being the loader): better to refuse it here.
func staticELF(file string) (arch string, err error) {
	f, err := elf.Open(file)
	if err != nil {
		return "", fmt.Errorf("read %s as an ELF executable: %w", file, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", fmt.Errorf("%s is dynamically linked (it needs a loader and libc, which the image does not have): use a static build", file)
		}
	}
	arch, ok := elfArch[f.Machine]
	if !ok {
		return "", fmt.Errorf("%s: unsupported ELF machine %v", file, f.Machine)
	}
	return arch, nil
}
