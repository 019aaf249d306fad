package storecopy

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func backupOf(t *testing.T) *Backup {
	ctx := context.Background()
	src := newSQLite(t)
	fill(t, src)
	snap, err := Read(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap.Meta["key_id"] = []byte("12345678")
	snap.Meta["audit_key"] = []byte("wrapped")
	return &Backup{Format: BackupFormat, Env: "dev", VaultID: "00017661756c74", ExportedAt: ts, ExportedBy: "op", Vault: snap}
}

func TestBackupRoundTrip(t *testing.T) {
	b := backupOf(t)
	var buf bytes.Buffer
	if err := WriteBackup(&buf, b); err != nil {
		t.Fatal(err)
	}
	got, err := ReadBackup(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, b) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got.Vault, b.Vault)
	}
	// Restored into PostgreSQL, it is the same rows.
	dst := newPostgres(t)
	if err := Write(context.Background(), dst, got.Vault, nil); err != nil {
		t.Fatal(err)
	}
	again, err := Read(context.Background(), dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normal(again), normal(b.Vault)) {
		t.Fatal("restored rows differ")
	}
}

func TestReadBackupRefuses(t *testing.T) {
	for name, edit := range map[string]func(b *Backup){
		"format":       func(b *Backup) { b.Format = "keysmith-vault-backup/v9" },
		"env":          func(b *Backup) { b.Env = "prod" },
		"no audit key": func(b *Backup) { delete(b.Vault.Meta, "audit_key") },
		"orphan":       func(b *Backup) { b.Vault.Secrets[0].TenantID = 99 },
		"seq gap":      func(b *Backup) { b.Vault.Audit = b.Vault.Audit[1:] },
		"no vault":     func(b *Backup) { b.Vault = nil },
	} {
		b := backupOf(t)
		edit(b)
		var buf bytes.Buffer
		WriteBackup(&buf, b)
		if _, err := ReadBackup(&buf); !errors.Is(err, ErrBackup) {
			t.Errorf("%s: %v, want ErrBackup", name, err)
		}
	}
	if _, err := ReadBackup(strings.NewReader(`{"format":"keysmith-vault-backup/v2","extra":1}`)); !errors.Is(err, ErrBackup) {
		t.Errorf("unknown field: %v", err)
	}
}

// FuzzReadBackupV2: the reader never panics, and what it accepts writes
// back to something it accepts again.
func FuzzReadBackupV2(f *testing.F) {
	f.Add([]byte(`{"format":"keysmith-vault-backup/v2","env":"dev","vault_id":"00","vault":{"meta":{}}}`))
	f.Add([]byte(`{"format":"keysmith-vault-backup/v2","vault":{"tenants":[{"ID":1}],"audit":[{"Seq":2}]}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ReadBackup(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteBackup(&buf, b); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadBackup(&buf); err != nil {
			t.Fatalf("accepted backup does not read back: %v", err)
		}
	})
}
