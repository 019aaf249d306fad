package vault

import (
	"bytes"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/keysmith/keysmith/pkg/masterkey"
)

type katVector struct {
	MasterKey   string `json:"master_key"`
	Env         string `json:"env"`
	VaultID     string `json:"vault_id"`
	TenantID    int64  `json:"tenant_id"`
	DEKVersion  int    `json:"dek_version"`
	DEK         string `json:"dek"`
	DEKNonce    string `json:"dek_nonce"`
	Name        string `json:"name"`
	Version     int    `json:"version"`
	Plaintext   string `json:"plaintext"`
	ValueNonce  string `json:"value_nonce"`
	Root        string `json:"root"`
	KEK         string `json:"kek"`
	WrappedDEK  string `json:"wrapped_dek"`
	SealedValue string `json:"sealed_value"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEnvelopeKAT checks the key hierarchy and AD layouts against vectors
// computed by an independent implementation (testdata/kat.py).
func TestEnvelopeKAT(t *testing.T) {
	data, err := os.ReadFile("testdata/envelope-kat.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []katVector
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range vs {
		t.Run(v.Env+"/"+v.Name, func(t *testing.T) {
			mk, err := masterkey.Parse(v.MasterKey)
			if err != nil {
				t.Fatal(err)
			}
			root := rootKey(mk, v.Env)
			if got := hex.EncodeToString(root); got != v.Root {
				t.Fatalf("root = %s, want %s", got, v.Root)
			}
			kekBytes, err := kekFromRoot(root)
			if err != nil || hex.EncodeToString(kekBytes) != v.KEK {
				t.Fatalf("kek = %x, %v; want %s", kekBytes, err, v.KEK)
			}
			vaultID := unhex(t, v.VaultID)
			k, err := deriveKeys(mk, v.Env, vaultID, bytes.NewReader(unhex(t, v.DEKNonce)))
			if err != nil {
				t.Fatal(err)
			}
			wrapped, err := wrapDEK(k.kek, vaultID, v.TenantID, v.DEKVersion, unhex(t, v.DEK))
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(wrapped); got != v.WrappedDEK {
				t.Fatalf("wrapped DEK = %s, want %s", got, v.WrappedDEK)
			}
			dek, err := unwrapDEK(k.kek, vaultID, v.TenantID, v.DEKVersion, wrapped, bytes.NewReader(unhex(t, v.ValueNonce)))
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := sealValue(dek, v.TenantID, v.Name, v.Version, v.DEKVersion, unhex(t, v.Plaintext))
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(sealed); got != v.SealedValue {
				t.Fatalf("sealed value = %s, want %s", got, v.SealedValue)
			}
			pt, err := openValue(dek, v.TenantID, v.Name, v.Version, v.DEKVersion, sealed)
			if err != nil || hex.EncodeToString(pt) != v.Plaintext {
				t.Fatalf("open: %x, %v", pt, err)
			}
			// Every bound field matters.
			for _, c := range []struct {
				name      string
				tenant    int64
				n         string
				ver, dekV int
			}{
				{"tenant", v.TenantID + 1, v.Name, v.Version, v.DEKVersion},
				{"name", v.TenantID, v.Name + "X", v.Version, v.DEKVersion},
				{"version", v.TenantID, v.Name, v.Version + 1, v.DEKVersion},
				{"dek version", v.TenantID, v.Name, v.Version, v.DEKVersion + 1},
			} {
				if _, err := openValue(dek, c.tenant, c.n, c.ver, c.dekV, sealed); !errors.Is(err, ErrTampered) {
					t.Errorf("value opened with another %s: %v", c.name, err)
				}
			}
			if _, err := unwrapDEK(k.kek, vaultID, v.TenantID+1, v.DEKVersion, wrapped, nil); !errors.Is(err, ErrTampered) {
				t.Errorf("DEK unwrapped for another tenant: %v", err)
			}
			other := append([]byte{}, vaultID...)
			other[0] ^= 1
			if _, err := unwrapDEK(k.kek, other, v.TenantID, v.DEKVersion, wrapped, nil); !errors.Is(err, ErrTampered) {
				t.Errorf("DEK unwrapped for another vault: %v", err)
			}
		})
	}
}

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
	if err := v.AddTenant("acme"); err != nil {
		t.Fatal(err)
	}
	for _, tn := range []string{"default", "acme"} {
		for _, n := range []string{"A", "B"} {
			if _, err := v.Put(tn, n, []byte(tn+"-"+n), ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := v.Put("default", "A", []byte("A2"), ""); err != nil {
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
		if _, err := v.Get(c.tenant, c.name, c.version); !errors.Is(err, ErrTampered) {
			t.Errorf("%s/%s v%d: %v, want ErrTampered", c.tenant, c.name, c.version, err)
		}
	}
	if s, err := v.Get("default", "A", 1); err != nil || string(s.Value) != "default-A" {
		t.Fatalf("untouched row: %v %v", s, err)
	}
	v.Close()
	// The acme DEK replaced by default's: acme's values no longer open.
	sqlExec(t, path, "UPDATE deks SET wrapped = (SELECT wrapped FROM deks WHERE tenant_id = (SELECT id FROM tenants WHERE name = 'default')) WHERE tenant_id = (SELECT id FROM tenants WHERE name = 'acme')")
	v = reopen(t, path, k)
	if _, err := v.Get("acme", "B", 0); !errors.Is(err, ErrTampered) {
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
		if _, err := v.Put("default", "S"+string(rune('A'+i%26)), val, ""); err != nil {
			t.Fatal(err)
		}
	}
	// The unwrapped DEK (recovered by unwrapping) and audit key.
	var wrapped []byte
	if err := v.db.QueryRow("SELECT wrapped FROM deks").Scan(&wrapped); err != nil {
		t.Fatal(err)
	}
	dek, err := v.unlocked.kek.Open(nil, wrapped, dekAD(v.vaultID, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	needles = append(needles, dek, v.unlocked.audit)
	if _, err := v.RotateDEK("default", nil); err != nil {
		t.Fatal(err)
	}
	if err := v.db.QueryRow("SELECT wrapped FROM deks").Scan(&wrapped); err != nil {
		t.Fatal(err)
	}
	dek2, err := v.unlocked.kek.Open(nil, wrapped, dekAD(v.vaultID, 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	needles = append(needles, dek2)
	if _, err := v.Put("default", "LAST", []byte("PLAINTEXT-IN-WAL-ONLY-xyz"), ""); err != nil {
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
