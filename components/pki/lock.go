package pki

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// lockTimeout is how long lockFile waits for another writer before giving up.
const lockTimeout = 5 * time.Second

// lockFile takes the "<path>.lock" file that kubectl (client-go's clientcmd) also uses while it
// edits a kubeconfig, so `kubectl config use-context` and two `kubelab cluster create` running at
// once cannot lose each other's changes. Creating a file with O_EXCL succeeds for exactly one
// process; the others wait. The returned function releases the lock.
func lockFile(path string) (unlock func(), err error) {
	lockPath := path + ".lock"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	deadline := time.Now().Add(lockTimeout)
	for {
		f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(lockPath) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("locking %s: %s still exists after %s (another kubectl or kubelab is "+
				"editing the file, or one crashed and left it behind: then remove it)", path, lockPath, lockTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
