package vault

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzReadBackup: the backup parser never panics, and what it accepts
// survives a write and a second read unchanged. The seed corpus runs in
// every go test.
func FuzzReadBackup(f *testing.F) {
	valid := &Backup{Format: BackupFormat, Env: "dev", VaultID: "00", ExportedAt: "t", ExportedBy: "me",
		Tenants: []BackupTenant{{Name: "default", Secrets: []BackupSecret{
			{Name: "A_SECRET", Version: 1, Value: []byte("v1"), CreatedAt: "t", CreatedBy: "me"},
			{Name: "A_SECRET", Version: 2, Value: []byte{0, 1, 2}, Description: "d", DeletedAt: "t2"},
		}}}}
	var buf bytes.Buffer
	if _, err := valid.WriteTo(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"format":"keysmith-vault-backup/v1","tenants":[{"name":"x","secrets":[{"name":"n","version":0}]}]}`))
	f.Add([]byte(`{"format":"other"}`))
	f.Add([]byte(`{"format":"keysmith-vault-backup/v1","extra":1}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ReadBackup(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if _, err := b.WriteTo(&out); err != nil {
			t.Fatal(err)
		}
		again, err := ReadBackup(&out)
		if err != nil {
			t.Fatalf("re-read of an accepted backup: %v", err)
		}
		if !reflect.DeepEqual(normalize(b), normalize(again)) {
			t.Fatalf("backup changed on a round trip")
		}
	})
}

// normalize treats nil and empty byte slices alike (JSON cannot tell them apart).
func normalize(b *Backup) *Backup {
	c := *b
	c.Tenants = nil
	for _, t := range b.Tenants {
		nt := BackupTenant{Name: t.Name}
		for _, s := range t.Secrets {
			if len(s.Value) == 0 {
				s.Value = nil
			}
			nt.Secrets = append(nt.Secrets, s)
		}
		c.Tenants = append(c.Tenants, nt)
	}
	return &c
}
