//go:build unix

package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockDir takes an exclusive advisory lock (flock) on the directory that
// holds path, after following symbolic links, waiting for other holders.
// keysmith processes that read, change and rewrite a file in that directory
// (a key file, a .env file) take it, so two of them never overwrite each
// other's change. The directory, not the file, is locked: the file is
// replaced by rename, and it may not exist yet.
func LockDir(path string) (unlock func(), err error) {
	p, err := Resolve(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(p)
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(d.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("locking %q: %w", dir, err)
	}
	return func() {
		syscall.Flock(int(d.Fd()), syscall.LOCK_UN)
		d.Close()
	}, nil
}
