package sqlite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/keysmith/keysmith/pkg/vault/vaulterr"
)

// checkWritable refuses, before SQLite touches anything, a vault file this
// process cannot write: every read appends an audit row, and a connection
// that fails on a read-only file leaves "-wal" and "-shm" files with the
// vault's mode behind, which break the vault after a chmod. The file needs
// its owner's write bit (so a 0400 vault is read-only even to root) and
// write access; the directory needs write access unless the "-wal" and
// "-shm" files already exist.
func checkWritable(path string, st fs.FileInfo) error {
	why := "every read appends an audit row, so keysmith must be able to write it"
	if st.Mode().Perm()&0o200 == 0 {
		return fmt.Errorf("%q: %w (mode %04o): %s", path, vaulterr.ErrReadOnly, st.Mode().Perm(), why)
	}
	if err := canWrite(path); err != nil {
		return fmt.Errorf("%q: %w (%v): %s", path, vaulterr.ErrReadOnly, err, why)
	}
	if exists(path+"-wal") && exists(path+"-shm") {
		return nil
	}
	dir := filepath.Dir(path)
	if err := canWrite(dir); err != nil {
		return fmt.Errorf("%q: %w: its directory %q is not writable (%v): %s and create %q beside it", path, vaulterr.ErrReadOnly, dir, err, why, filepath.Base(path)+"-wal")
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// CreatePending makes a new, empty vault like Create, but under a
// temporary name beside path (".<name>.<random>.creating"), so that a
// process killed while it fills the vault leaves no half-made file at
// path. Publish moves it into place; Remove(s.Path()) drops it.
func CreatePending(ctx context.Context, path string) (*Store, error) {
	if exists(path) {
		return nil, fmt.Errorf("%q: %w", path, vaulterr.ErrExists)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"."+hex.EncodeToString(b[:])+PendingSuffix)
	s, err := Create(ctx, tmp)
	if err != nil {
		return nil, err
	}
	s.name = path
	return s, nil
}

// PendingSuffix ends the name of a vault CreatePending has not published.
const PendingSuffix = ".creating"

// Publish moves a vault made by CreatePending into place at path, after
// folding its WAL into the file and closing it (so no "-wal" or "-shm"
// file is left under the temporary name). It never replaces a file at
// path: that is ErrExists, and the pending vault is removed.
func (s *Store) Publish(ctx context.Context, path string) error {
	tmp := s.path
	if !strings.HasSuffix(tmp, PendingSuffix) {
		return fmt.Errorf("sqlite: Publish of %q, which CreatePending did not make", tmp)
	}
	var err error
	if s.w != nil {
		_, err = s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
		err = dbErr(err)
	}
	err = errors.Join(err, s.Close())
	if err == nil {
		err = syncFile(tmp)
	}
	if err == nil {
		// link(2) fails if path exists, where rename(2) would replace it.
		if err = os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
			err = fmt.Errorf("%q: %w", path, vaulterr.ErrExists)
		} else if err != nil && !exists(path) {
			err = os.Rename(tmp, path) // a file system without hard links
		}
	}
	Remove(tmp)
	if err != nil {
		return err
	}
	return syncFile(filepath.Dir(path))
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
