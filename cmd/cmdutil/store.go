package cmdutil

import (
	"context"

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
	if postgres.IsURL(where) {
		return postgres.Open(ctx, where)
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
