package pki

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeFileAtomic writes data to path with the given permissions, creating parent directories.
//
// It writes a temporary file in the same directory and renames it over path: a reader (kubectl, an
// apiserver restarting) sees either the old file or the new one, never half of one, and a crash while
// writing cannot truncate a user's ~/.kube/config.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating directory for %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// Remove the temporary file on any failure; after a successful rename it no longer exists.
	defer os.Remove(tmp.Name())

	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// writePair writes a certificate (0644: public, anyone may read it) and its key (0600: only the
// owner) — the permissions kubeadm and KTHW use.
func writePair(certFile string, certPEM []byte, keyFile string, keyPEM []byte) error {
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		return err
	}
	return writeFileAtomic(keyFile, keyPEM, 0o600)
}
