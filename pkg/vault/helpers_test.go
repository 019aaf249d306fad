package vault

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/store/sqlite"
)

// ctx is the context of calls whose caller is the Options' default.
var ctx = context.Background()

func testKey(t testing.TB, b byte) masterkey.Key {
	t.Helper()
	k, err := masterkey.New(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testOpts() Options {
	return Options{Actor: "tester", Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }}
}

// createFile makes a vault file at path.
func createFile(path, env string, key masterkey.Key, opts Options) (*Vault, error) {
	st, err := sqlite.Create(ctx, path)
	if err != nil {
		return nil, err
	}
	v, err := Create(ctx, st, env, key, opts)
	if err != nil {
		sqlite.Remove(path)
	}
	return v, err
}

// openFile opens the vault file at path.
func openFile(path string, opts Options) (*Vault, error) {
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	return Open(ctx, st, opts)
}

// newVault creates an unlocked vault in a temporary directory.
func newVault(t testing.TB) (*Vault, string, masterkey.Key) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "v", "vault.db")
	k := testKey(t, 1)
	v, err := createFile(path, "dev", k, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v, path, k
}

// reopen opens path and unlocks it with k.
func reopen(t testing.TB, path string, k masterkey.Key) *Vault {
	t.Helper()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	return openUnlocked(t, st, k)
}

// openUnlocked opens the vault in st and unlocks it with k; it is closed
// when the test ends.
func openUnlocked(t testing.TB, st store.Store, k masterkey.Key) *Vault {
	t.Helper()
	v, err := Open(ctx, st, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	if err := v.Unlock(ctx, k); err != nil {
		t.Fatal(err)
	}
	return v
}

// rawDB opens the vault file below the store, for tests that tamper with
// it as someone with write access to the file would.
func rawDB(t testing.TB, v *Vault) *sql.DB {
	t.Helper()
	db, err := sqlite.OpenDB(v.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Key is masterkey.Key, for the child processes of process_test.go.
type Key = masterkey.Key

func newMasterKey(b []byte) (Key, error) { return masterkey.New(b) }

// resealDeviceKey recomputes the MAC of a device key row as keysmith would
// when writing it with the key.
func resealDeviceKey(t testing.TB, v *Vault, keyID string) {
	t.Helper()
	err := v.update(ctx, func(o *op) error {
		ks, err := o.tx.DeviceKeys(o.ctx, 0)
		if err != nil {
			return err
		}
		for _, k := range ks {
			if k.KeyID == keyID {
				return o.tx.UpdateDeviceKey(o.ctx, k.ID, k.Status, k.RevokedAt, o.keys.MAC(keyring.DeviceKeyRow(k)))
			}
		}
		return fmt.Errorf("no key %s", keyID)
	})
	if err != nil {
		t.Fatal(err)
	}
}
