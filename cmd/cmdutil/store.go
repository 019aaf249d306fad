package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/store/postgres"
	"github.com/keysmith/keysmith/pkg/vault/store/sqlite"
)

// IsStoreURL reports whether a --vault value names a PostgreSQL store
// (postgres:// or postgresql://) rather than a SQLite file.
func IsStoreURL(where string) bool { return postgres.IsURL(where) }

// OpenStore opens the store a --vault value names: a PostgreSQL URL, else
// a SQLite file path. Errors name the store without a password.
func OpenStore(ctx context.Context, where string) (store.Store, error) {
	return openStore(ctx, where, false)
}

func openStore(ctx context.Context, where string, server bool) (store.Store, error) {
	if postgres.IsURL(where) {
		return postgres.OpenWith(ctx, where, postgres.Options{Server: server})
	}
	return sqlite.Open(ctx, where)
}

// CreateStore creates an empty store (the schema, no rows) where a
// --vault value says: a new SQLite file (never replacing one), or the
// schema in a PostgreSQL database or search_path schema (refusing one that
// holds a vault or other tables).
func CreateStore(ctx context.Context, where string) (store.Store, error) {
	if postgres.IsURL(where) {
		return postgres.Create(ctx, where)
	}
	return sqlite.Create(ctx, where)
}

// RemoveStore undoes a CreateStore whose vault could not be completed: a
// SQLite file is removed; a PostgreSQL schema is left (it holds no vault
// rows: a failed copy or restore leaves its transaction rolled back).
func RemoveStore(where string) {
	if !postgres.IsURL(where) {
		sqlite.Remove(where)
	}
}

// DescribeVault names a --vault value for messages: a PostgreSQL URL
// without its password, a file path as it is.
func DescribeVault(where string) string {
	if postgres.IsURL(where) {
		return postgres.Redact(where)
	}
	return where
}

// CheckVaultMode refuses a SQLite vault file (or its -wal or -shm file)
// that others can read or write, and one the group can, unless
// allowGroup (config vault_group, KEYSMITH_VAULT_GROUP): like a key file,
// it is the secrets' last line of defence. PostgreSQL URLs pass.
func CheckVaultMode(where string, allowGroup bool) error {
	if IsStoreURL(where) {
		return nil
	}
	for _, p := range []string{where, where + "-wal", where + "-shm"} {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		mode := st.Mode().Perm()
		if p == where && !isSQLite(p) {
			return nil // not a vault: sqlite.Open says so (exit 2)
		}
		switch {
		case mode&0o007 != 0:
			return WithHint(fmt.Errorf("vault file %q is accessible by others (mode %04o): %w", p, mode, ErrPermission),
				fmt.Sprintf("chmod 600 %q (or chmod 660 and vault_group: true to share it with a group, docs/vault.md)", p))
		case mode&0o070 != 0 && !allowGroup:
			return WithHint(fmt.Errorf("vault file %q is accessible by its group (mode %04o): %w", p, mode, ErrPermission),
				fmt.Sprintf("chmod 600 %q, or, to share the vault with the group on purpose, set vault_group: true in the config of each user (or KEYSMITH_VAULT_GROUP=1)", p))
		}
	}
	return nil
}

// isSQLite reports whether the file starts with SQLite's header.
func isSQLite(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true // let the open report it
	}
	defer f.Close()
	var b [16]byte
	n, _ := io.ReadFull(f, b[:])
	return string(b[:n]) == "SQLite format 3\x00"
}
