package vault

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/keysmith/keysmith/pkg/masterkey"
)

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

// newVault creates an unlocked vault in a temporary directory.
func newVault(t testing.TB) (*Vault, string, masterkey.Key) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "v", "vault.db")
	k := testKey(t, 1)
	v, err := Create(path, "dev", k, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v, path, k
}

// reopen opens path and unlocks it with k.
func reopen(t testing.TB, path string, k masterkey.Key) *Vault {
	t.Helper()
	v, err := Open(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	if err := v.Unlock(k); err != nil {
		t.Fatal(err)
	}
	return v
}

// Key is masterkey.Key, for the child processes of process_test.go.
type Key = masterkey.Key

func newMasterKey(b []byte) (Key, error) { return masterkey.New(b) }
