package vault

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"testing"
)

func sqlExec(t *testing.T, path, q string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestCopiedRowsFail copies a sealed value to another name, another version
// and another tenant, and a wrapped DEK to another tenant: none opens.
func TestCopiedRowsFail(t *testing.T) {
	v, path, k := newVault(t)
	if err := v.AddTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	for _, tn := range []string{"default", "acme"} {
		for _, n := range []string{"A", "B"} {
			if _, err := v.Put(ctx, tn, n, []byte(tn+"-"+n), ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := v.Put(ctx, "default", "A", []byte("A2"), ""); err != nil {
		t.Fatal(err)
	}
	v.Close()
	const sealedOf = "(SELECT sealed FROM secrets s JOIN tenants t ON t.id = s.tenant_id WHERE t.name = ? AND s.name = ? AND s.version = ?)"
	sqlExec(t, path, "UPDATE secrets SET sealed = "+sealedOf+" WHERE name = 'B' AND tenant_id = (SELECT id FROM tenants WHERE name = 'default')", "default", "A", 1)
	sqlExec(t, path, "UPDATE secrets SET sealed = "+sealedOf+" WHERE name = 'A' AND version = 2", "default", "A", 1)
	sqlExec(t, path, "UPDATE secrets SET sealed = "+sealedOf+" WHERE name = 'A' AND tenant_id = (SELECT id FROM tenants WHERE name = 'acme')", "default", "A", 1)
	v = reopen(t, path, k)
	for _, c := range []struct {
		tenant, name string
		version      int
	}{{"default", "B", 0}, {"default", "A", 2}, {"acme", "A", 0}} {
		if _, err := v.Get(ctx, c.tenant, c.name, c.version); !errors.Is(err, ErrTampered) {
			t.Errorf("%s/%s v%d: %v, want ErrTampered", c.tenant, c.name, c.version, err)
		}
	}
	if s, err := v.Get(ctx, "default", "A", 1); err != nil || string(s.Value) != "default-A" {
		t.Fatalf("untouched row: %v %v", s, err)
	}
	v.Close()
	// The acme DEK replaced by default's: acme's values no longer open.
	sqlExec(t, path, "UPDATE deks SET wrapped = (SELECT wrapped FROM deks WHERE tenant_id = (SELECT id FROM tenants WHERE name = 'default')) WHERE tenant_id = (SELECT id FROM tenants WHERE name = 'acme')")
	v = reopen(t, path, k)
	if _, err := v.Get(ctx, "acme", "B", 0); !errors.Is(err, ErrTampered) {
		t.Errorf("acme with default's DEK: %v", err)
	}
}

// TestNoPlaintextOnDisk scans the vault file and its WAL, with the WAL kept
// (the vault still open), for values and unwrapped keys.
func TestNoPlaintextOnDisk(t *testing.T) {
	v, path, _ := newVault(t)
	var needles [][]byte
	for i := 0; i < 50; i++ {
		val := []byte("PLAINTEXT-VALUE-" + string(rune('A'+i%26)) + "-0123456789abcdef")
		needles = append(needles, val)
		if _, err := v.Put(ctx, "default", "S"+string(rune('A'+i%26)), val, ""); err != nil {
			t.Fatal(err)
		}
	}
	// The unwrapped DEK (recovered by unwrapping) and audit key.
	var wrapped []byte
	if err := rawDB(t, v).QueryRow("SELECT wrapped FROM deks").Scan(&wrapped); err != nil {
		t.Fatal(err)
	}
	dek, err := v.keys.UnwrapDEKBytes(1, 1, wrapped)
	if err != nil {
		t.Fatal(err)
	}
	needles = append(needles, dek, v.keys.AuditKey())
	if _, err := v.RotateDEK(ctx, "default", nil); err != nil {
		t.Fatal(err)
	}
	if err := rawDB(t, v).QueryRow("SELECT wrapped FROM deks").Scan(&wrapped); err != nil {
		t.Fatal(err)
	}
	dek2, err := v.keys.UnwrapDEKBytes(1, 2, wrapped)
	if err != nil {
		t.Fatal(err)
	}
	needles = append(needles, dek2)
	if _, err := v.Put(ctx, "default", "LAST", []byte("PLAINTEXT-IN-WAL-ONLY-xyz"), ""); err != nil {
		t.Fatal(err)
	}
	needles = append(needles, []byte("PLAINTEXT-IN-WAL-ONLY-xyz"))
	scanned := 0
	for _, p := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		scanned += len(data)
		for _, n := range needles {
			if bytes.Contains(data, n) {
				t.Errorf("%s contains a secret (%d bytes)", p, len(n))
			}
			if len(n) >= 16 && bytes.Contains(data, n[:16]) {
				t.Errorf("%s contains a 16-byte prefix of a secret", p)
			}
		}
	}
	if st, err := os.Stat(path + "-wal"); err != nil || st.Size() == 0 {
		t.Fatalf("test must scan a non-empty WAL: %v", err)
	}
	// The scan must be able to fail: the needle is findable when stored in clear.
	if !bytes.Contains(mustRead(t, path+"-wal"), []byte("LAST")) {
		t.Fatal("names are stored in clear; the scan should have seen LAST")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
