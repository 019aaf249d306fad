package vault

import (
	"errors"
	"testing"

	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
)

// Unlock opens the wrapped audit key Open read; when that copy does not
// open (the meta changed since Open: a level upgrade re-wraps it), it reads
// the meta again and uses what is there now: a good key unlocks, a bad one
// is tampering.
func TestUnlockRereadsAuditKey(t *testing.T) {
	v, path, k := newVault(t)
	v.Close()
	r, err := openFile(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	good := r.wrappedAudit
	r.Close()
	if len(good) == 0 {
		t.Fatal("Open read no wrapped audit key")
	}
	setAuditKey := func(wrapped []byte) {
		t.Helper()
		db := rawDB(t, &Vault{desc: path})
		if _, err := db.Exec("UPDATE meta SET value = ? WHERE key = ?", wrapped, store.MetaAuditKey); err != nil {
			t.Fatal(err)
		}
	}
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 1

	setAuditKey(bad)
	w, err := openFile(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	setAuditKey(good)
	if err := w.UnlockStretched(ctx, k, keyring.Prestretch(k, "dev")); err != nil {
		t.Fatalf("the meta holds the good key again: %v", err)
	}

	// bad at Open and still bad: tampering
	setAuditKey(bad)
	w2, err := openFile(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if err := w2.Unlock(ctx, k); !errors.Is(err, ErrTampered) {
		t.Fatalf("a bad wrapped audit key at Open and after: %v, want ErrTampered", err)
	}
}
