package keyring

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/keysmith/keysmith/pkg/masterkey"
)

// A Stretch started for the key and environment gives the keys Derive
// gives; one started for another key or environment is ignored, not used.
func TestDeriveStretched(t *testing.T) {
	mk, err := masterkey.Parse("1111111111111111111111111111111111111111111111111111111111111111")
	if err != nil {
		t.Fatal(err)
	}
	other, err := masterkey.Parse("2222222222222222222222222222222222222222222222222222222222222222")
	if err != nil {
		t.Fatal(err)
	}
	vaultID := bytes.Repeat([]byte{7}, 16)
	plain, err := Derive(mk, "dev", vaultID, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	audit := bytes.Repeat([]byte{9}, 32)
	wrapped, err := plain.WrapAuditKey(audit, LevelLatest)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		pre  *Stretch
	}{
		{"matching", Prestretch(mk, "dev")},
		{"other environment", Prestretch(mk, "prod")},
		{"other key", Prestretch(other, "dev")},
		{"none", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer c.pre.Wipe()
			k, err := DeriveStretched(c.pre, mk, "dev", vaultID, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			got, level, err := k.OpenAuditKey(wrapped)
			if err != nil || level != LevelLatest || !bytes.Equal(got, audit) {
				t.Fatalf("OpenAuditKey = %x, %d, %v; want the audit key Derive's keys wrapped", got, level, err)
			}
		})
	}
	// Wipe clears the root key and may be called again; a wiped Stretch
	// is not used (its root is gone): the derivation happens anew.
	pre := Prestretch(mk, "dev")
	pre.Wipe()
	pre.Wipe()
	if pre.root != nil {
		t.Fatal("Wipe left the root key")
	}
	k, err := DeriveStretched(pre, mk, "dev", vaultID, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.OpenAuditKey(wrapped); err != nil {
		t.Fatalf("after Wipe: %v", err)
	}
}
