// Package atomicfile writes files so that a reader, or a crash, sees either
// the old contents or the new, never a mix: a temporary file in the same
// directory, fsync, rename over the target, fsync of the directory. It also
// creates files that must not already exist (O_EXCL). See docs/security.md.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// WriteFile replaces path with data atomically. An existing file keeps its
// permission bits; a new file gets mode perm. A symbolic link is followed:
// the file it points to is replaced and the link stays a link.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, true)
}

// ReplaceFile is WriteFile for a file that must have mode perm whatever the
// file it replaces had (a backup or key written over a world-readable one).
func ReplaceFile(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, false)
}

func write(path string, data []byte, perm fs.FileMode, keepMode bool) (err error) {
	if path, err = Resolve(path); err != nil {
		return err
	}
	mode := perm
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%q is not a regular file", path)
		}
		if keepMode {
			mode = st.Mode().Perm()
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	dir := filepath.Dir(path)
	var tmp *os.File
	untrack, err := track(func() (string, error) {
		f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
		if err != nil {
			return "", err
		}
		tmp = f
		return f.Name(), nil
	})
	if err != nil {
		return err
	}
	defer untrack()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if testHookBeforeRename != nil {
		testHookBeforeRename()
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// testHookBeforeRename runs, in tests only, after the temporary file is
// written and before it is renamed into place.
var testHookBeforeRename func()

// Resolve follows symbolic links in path. A path that does not exist yet is
// returned as it is (its directory's links are followed when it is created).
func Resolve(path string) (string, error) {
	p, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, lerr := os.Lstat(path); lerr == nil {
			return "", fmt.Errorf("%q is a symbolic link to a file that does not exist", path)
		}
		return path, nil
	}
	return p, err
}

// CreateExclusive writes data to a new file at path with mode perm, failing
// with fs.ErrExist if anything is already there. On failure no file is left.
func CreateExclusive(path string, data []byte, perm fs.FileMode) (err error) {
	var f *os.File
	untrack, err := track(func() (string, error) {
		var err error
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		return path, err
	})
	if err != nil {
		return err
	}
	defer untrack()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	if err = f.Chmod(perm); err != nil { // umask may have narrowed or widened nothing; make it exact
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return err
	}
	return nil
}

// LockDirs takes LockDir on the directories of all paths, each once, in a
// fixed order (so two processes locking overlapping sets cannot deadlock).
func LockDirs(paths []string) (unlock func(), err error) {
	dirs := map[string]string{} // resolved directory -> a path in it
	for _, p := range paths {
		r, err := Resolve(p)
		if err != nil {
			return nil, err
		}
		dirs[filepath.Dir(r)] = r
	}
	keys := make([]string, 0, len(dirs))
	for d := range dirs {
		keys = append(keys, d)
	}
	sort.Strings(keys)
	var unlocks []func()
	release := func() {
		for i := len(unlocks) - 1; i >= 0; i-- {
			unlocks[i]()
		}
	}
	for _, d := range keys {
		u, err := LockDir(dirs[d])
		if err != nil {
			release()
			return nil, err
		}
		unlocks = append(unlocks, u)
	}
	return release, nil
}
