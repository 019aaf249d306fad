package keyring

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/vault/vaulterr"
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
			root := RootKey(mk, v.Env)
			if got := hex.EncodeToString(root); got != v.Root {
				t.Fatalf("root = %s, want %s", got, v.Root)
			}
			kekBytes, err := KEKFromRoot(root)
			if err != nil || hex.EncodeToString(kekBytes) != v.KEK {
				t.Fatalf("kek = %x, %v; want %s", kekBytes, err, v.KEK)
			}
			vaultID := unhex(t, v.VaultID)
			k, err := Derive(mk, v.Env, vaultID, bytes.NewReader(unhex(t, v.DEKNonce)))
			if err != nil {
				t.Fatal(err)
			}
			wrapped, err := k.WrapDEK(v.TenantID, v.DEKVersion, unhex(t, v.DEK))
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(wrapped); got != v.WrappedDEK {
				t.Fatalf("wrapped DEK = %s, want %s", got, v.WrappedDEK)
			}
			k.rand = bytes.NewReader(unhex(t, v.ValueNonce))
			dek, err := k.UnwrapDEK(v.TenantID, v.DEKVersion, wrapped)
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := SealValue(dek, v.TenantID, v.Name, v.Version, v.DEKVersion, unhex(t, v.Plaintext))
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(sealed); got != v.SealedValue {
				t.Fatalf("sealed value = %s, want %s", got, v.SealedValue)
			}
			pt, err := OpenValue(dek, v.TenantID, v.Name, v.Version, v.DEKVersion, sealed)
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
				if _, err := OpenValue(dek, c.tenant, c.n, c.ver, c.dekV, sealed); !errors.Is(err, vaulterr.ErrTampered) {
					t.Errorf("value opened with another %s: %v", c.name, err)
				}
			}
			if _, err := k.UnwrapDEK(v.TenantID+1, v.DEKVersion, wrapped); !errors.Is(err, vaulterr.ErrTampered) {
				t.Errorf("DEK unwrapped for another tenant: %v", err)
			}
			other := append([]byte{}, vaultID...)
			other[0] ^= 1
			ko := *k
			ko.vaultID = other
			if _, err := ko.UnwrapDEK(v.TenantID, v.DEKVersion, wrapped); !errors.Is(err, vaulterr.ErrTampered) {
				t.Errorf("DEK unwrapped for another vault: %v", err)
			}
		})
	}
}
