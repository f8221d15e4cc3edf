package volumes

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File is one file of a projected payload.
type File struct {
	Data []byte
	Mode os.FileMode
}

const (
	dataDirName    = "..data"
	newDataDirName = "..data_tmp"
)

// validatePayloadPath refuses absolute paths and any ".." element, so a
// key can never write outside its volume.
func validatePayloadPath(p string) error {
	if p == "" {
		return fmt.Errorf("invalid path %q: must not be empty", p)
	}
	if filepath.IsAbs(p) {
		return fmt.Errorf("invalid path %q: must be relative", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fmt.Errorf("invalid path %q: must not contain '..'", p)
		}
	}
	if strings.HasPrefix(p, "..") {
		return fmt.Errorf("invalid path %q: must not start with '..'", p)
	}
	return nil
}

// writeAtomic makes dir hold exactly payload, the way upstream's
// AtomicWriter does:
//
//	dir/..2026_01_02_15_04_05.123456789/<files>   the current generation
//	dir/..data -> ..2026_01_02_15_04_05.123456789
//	dir/<key>  -> ..data/<key>                     (first path element only)
//
// A new generation is written beside the old one and "..data" is switched
// with a rename, so a reader sees either all old or all new files. It
// reports whether anything changed.
func writeAtomic(dir string, payload map[string]File) (bool, error) {
	for p := range payload {
		if err := validatePayloadPath(p); err != nil {
			return false, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("create %s: %w", dir, err)
	}
	oldGen, _ := os.Readlink(filepath.Join(dir, dataDirName))
	if oldGen != "" && sameContent(filepath.Join(dir, oldGen), payload) {
		return false, nil
	}

	gen, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, fmt.Errorf("create generation dir in %s: %w", dir, err)
	}
	if err := os.Chmod(gen, 0o755); err != nil {
		return false, fmt.Errorf("chmod %s: %w", gen, err)
	}
	for p, f := range payload {
		full := filepath.Join(gen, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return false, fmt.Errorf("create dir for %s: %w", p, err)
		}
		if err := os.WriteFile(full, f.Data, f.Mode); err != nil {
			return false, fmt.Errorf("write %s: %w", p, err)
		}
		// WriteFile's mode is filtered by the umask; set it exactly.
		if err := os.Chmod(full, f.Mode); err != nil {
			return false, fmt.Errorf("chmod %s: %w", p, err)
		}
	}

	tmpLink := filepath.Join(dir, newDataDirName)
	_ = os.Remove(tmpLink)
	if err := os.Symlink(filepath.Base(gen), tmpLink); err != nil {
		return false, fmt.Errorf("link new generation in %s: %w", dir, err)
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, dataDirName)); err != nil {
		return false, fmt.Errorf("switch ..data in %s: %w", dir, err)
	}

	if err := syncUserLinks(dir, payload); err != nil {
		return true, err
	}
	if oldGen != "" && oldGen != filepath.Base(gen) {
		if err := os.RemoveAll(filepath.Join(dir, oldGen)); err != nil {
			return true, fmt.Errorf("remove old generation %s: %w", oldGen, err)
		}
	}
	return true, nil
}

// syncUserLinks makes the visible names exactly the payload's first path
// elements, each a symlink through ..data.
func syncUserLinks(dir string, payload map[string]File) error {
	want := map[string]bool{}
	for p := range payload {
		want[strings.SplitN(p, "/", 2)[0]] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") || want[e.Name()] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("remove stale %s: %w", e.Name(), err)
		}
	}
	for name := range want {
		link := filepath.Join(dir, name)
		target := filepath.Join(dataDirName, name)
		if cur, err := os.Readlink(link); err == nil && cur == target {
			continue
		}
		_ = os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			return fmt.Errorf("link %s: %w", name, err)
		}
	}
	return nil
}

// sameContent reports whether gen holds exactly payload (data and mode).
func sameContent(gen string, payload map[string]File) bool {
	n := 0
	err := filepath.WalkDir(gen, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		n++
		rel, _ := filepath.Rel(gen, p)
		f, ok := payload[rel]
		if !ok {
			return fmt.Errorf("extra file %s", rel)
		}
		info, err := d.Info()
		if err != nil || info.Mode().Perm() != f.Mode.Perm() {
			return fmt.Errorf("mode of %s changed", rel)
		}
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(data, f.Data) {
			return fmt.Errorf("content of %s changed", rel)
		}
		return nil
	})
	return err == nil && n == len(payload)
}
