package value

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/keysmith/keysmith/pkg/masterkey"
)

type vector struct {
	KeyHex       string `json:"key_hex"`
	KeyID        string `json:"key_id"`
	Env          string `json:"env"`
	Name         string `json:"name"`
	NonceHex     string `json:"nonce_hex"`
	PlaintextHex string `json:"plaintext_hex"`
	Value        string `json:"value"`
}

func loadVectors(t testing.TB) []vector {
	data, err := os.ReadFile("../../testdata/value/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Vectors []vector }
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	return f.Vectors
}

func mustKey(t testing.TB, s string) masterkey.Key {
	t.Helper()
	k, err := masterkey.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyrings caches one keyring per key and env: each costs a real PBKDF2.
var (
	krMu     sync.Mutex
	keyrings = map[string]*Keyring{}
)

func keyring(t testing.TB, keyHex, env string) *Keyring {
	krMu.Lock()
	defer krMu.Unlock()
	if kr, ok := keyrings[keyHex+env]; ok {
		return kr
	}
	kr := NewKeyring(env, mustKey(t, keyHex))
	keyrings[keyHex+env] = kr
	return kr
}

// TestVectors checks values made independently by Python's cryptography
// (scripts/make-value-vectors.py): they open, and sealing with the same
// nonce gives the same bytes.
func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Env+"/"+v.Name, func(t *testing.T) {
			want, _ := hex.DecodeString(v.PlaintextHex)
			k := mustKey(t, v.KeyHex)
			if k.ID().String() != v.KeyID {
				t.Fatalf("key ID %s, want %s", k.ID(), v.KeyID)
			}
			got, err := keyring(t, v.KeyHex, v.Env).Open(v.Value, v.Name)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("plaintext %x, want %x", got, want)
			}
			nonce, _ := hex.DecodeString(v.NonceHex)
			kr := withNonce(t, v, nonce)
			sealed, err := kr.Seal(v.Name, want)
			if err != nil {
				t.Fatal(err)
			}
			if sealed != v.Value {
				t.Fatalf("Seal =\n%s\nwant\n%s", sealed, v.Value)
			}
		})
	}
}

// withNonce returns a fresh keyring whose next nonce is nonce.
func withNonce(t *testing.T, v vector, nonce []byte) *Keyring {
	kr := NewKeyring(v.Env, mustKey(t, v.KeyHex))
	kr.rand = bytes.NewReader(nonce)
	return kr
}

const (
	keyA = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	keyB = "ff00000000000000000000000000000000000000000000000000000000000000"
)

func TestRoundTripAndBinding(t *testing.T) {
	kr := keyring(t, keyA, "dev")
	sealed, err := kr.Seal("API_KEY_SECRET", []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealed, "DEV_ENC:A") {
		t.Fatalf("prefix: %s", sealed)
	}
	if got, err := kr.Open(sealed, "API_KEY_SECRET"); err != nil || string(got) != "s3cret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// Another name: authentication fails.
	if _, err := kr.Open(sealed, "OTHER_SECRET"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("other name: %v", err)
	}
	// No name for a name-bound value.
	if _, err := kr.Open(sealed, ""); !errors.Is(err, ErrNameRequired) {
		t.Fatalf("no name: %v", err)
	}
	// An unbound value opens under any name.
	lone, _ := kr.Seal("", []byte("x"))
	if got, err := kr.Open(lone, "WHATEVER"); err != nil || string(got) != "x" {
		t.Fatalf("unbound: %q %v", got, err)
	}
	// Two seals of the same plaintext differ (random nonces).
	again, _ := kr.Seal("API_KEY_SECRET", []byte("s3cret"))
	if again == sealed {
		t.Fatal("nonce reuse")
	}
}

func TestWrongEnvironment(t *testing.T) {
	prod := keyring(t, keyA, "prod")
	dev := keyring(t, keyA, "dev")
	sealed, _ := prod.Seal("", []byte("p"))
	_, err := dev.Open(sealed, "")
	if !errors.Is(err, ErrWrongEnvironment) {
		t.Fatalf("err = %v", err)
	}
	if want := "value is for environment prod, but the selected environment is dev"; err.Error() != want {
		t.Fatalf("message %q", err)
	}
	// Relabelling the prefix does not help: the environment is in the AD and the KDF salt.
	relabelled := "DEV_ENC:" + strings.TrimPrefix(sealed, "PROD_ENC:")
	if _, err := dev.Open(relabelled, ""); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("relabelled: %v", err)
	}
}

func TestWrongKeyAndTamper(t *testing.T) {
	kr := keyring(t, keyA, "dev")
	sealed, _ := kr.Seal("N_SECRET", []byte("plaintext-marker"))

	// A different key that claims the same key ID: forge the header.
	other := NewKeyring("dev", mustKey(t, keyB))
	if _, err := other.Open(sealed, "N_SECRET"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}

	body, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, "DEV_ENC:"))
	for i := 0; i < len(body); i++ {
		b := bytes.Clone(body)
		b[i] ^= 0x01
		v := "DEV_ENC:" + base64.RawURLEncoding.EncodeToString(b)
		pt, err := kr.Open(v, "N_SECRET")
		if err == nil {
			t.Fatalf("byte %d flipped: opened", i)
		}
		if pt != nil {
			t.Fatalf("byte %d flipped: partial plaintext", i)
		}
		if strings.Contains(err.Error(), "plaintext-marker") {
			t.Fatalf("error echoes plaintext: %v", err)
		}
		if !errors.Is(err, ErrUnauthenticated) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("byte %d: unexpected error %v", i, err)
		}
	}
	// Truncation.
	if _, err := kr.Open(sealed[:len(sealed)-4], "N_SECRET"); err == nil {
		t.Fatal("truncated value opened")
	}
}

func TestRetiredKeyOpensByID(t *testing.T) {
	old := keyring(t, keyA, "dev")
	sealed, _ := old.Seal("", []byte("v"))
	rotated := NewKeyring("dev", mustKey(t, keyB), mustKey(t, keyA))
	if rotated.CurrentID() != mustKey(t, keyB).ID() {
		t.Fatal("current key is not the first")
	}
	got, err := rotated.Open(sealed, "")
	if err != nil || string(got) != "v" {
		t.Fatalf("retired key: %q %v", got, err)
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		in      string
		env     string
		wantErr bool
		legacy  bool
	}{
		{"DEV_ENC:AQAA" + strings.Repeat("A", 50), "dev", false, false},
		{"DEV_ENC:" + strings.Repeat("A", 54), "", true, false}, // version 0x00
		{"PROD_ENC:", "", true, false},
		{"dev_ENC:AAAA", "", true, false}, // lower-case prefix is not a value
		{"PLAIN", "", true, false},
		{"DEV_ENC:!!!", "", true, false},
		{"DEV_ENC:AQ", "", true, false},                         // too short
		{"DEV_ENC:" + strings.Repeat("B", 54), "", true, false}, // version 0x04
		{"DEV_ENC:gAAAAAnotfernet", "", true, false},            // starts like Fernet, is not
		{"MY-ENV_2_ENC:AQAA" + strings.Repeat("A", 50), "my-env_2", false, false},
		{"A_ENC_ENC:AQAA" + strings.Repeat("A", 50), "a_enc", false, false},
	}
	for _, c := range cases {
		p, err := Parse(c.in)
		if (err != nil) != c.wantErr {
			t.Errorf("Parse(%q) err = %v", c.in, err)
			continue
		}
		if err == nil && (p.Env != c.env || p.Legacy != c.legacy) {
			t.Errorf("Parse(%q) = env %q legacy %v", c.in, p.Env, p.Legacy)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) err %v is not ErrMalformed", c.in, err)
		}
	}
}

func TestLegacyValue(t *testing.T) {
	// A Fernet token from testdata/legacy/python-fixtures.json is detected,
	// and the legacy function receives the keyring's keys.
	data, err := os.ReadFile("../../testdata/legacy/python-fixtures.json")
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(`"gAAAA`))
	if i < 0 {
		t.Fatal("no token in fixtures")
	}
	token := string(data[i+1 : i+1+bytes.IndexByte(data[i+1:], '"')])
	kr := NewKeyring("dev", mustKey(t, keyA), mustKey(t, keyB))
	if _, err := kr.Open("DEV_ENC:"+token, ""); !errors.Is(err, ErrLegacyDisabled) {
		t.Fatalf("no legacy func: %v", err)
	}
	var tried []string
	kr.SetLegacy(func(k masterkey.Key, tok string) ([]byte, error) {
		tried = append(tried, k.ID().String())
		if k.Equal(mustKey(t, keyB)) {
			return []byte("old"), nil
		}
		return nil, errors.New("no")
	})
	got, err := kr.Open("DEV_ENC:"+token, "ANY")
	if err != nil || string(got) != "old" {
		t.Fatalf("legacy = %q %v", got, err)
	}
	if len(tried) != 2 || tried[0] != mustKey(t, keyA).ID().String() {
		t.Fatalf("keys tried: %v (want current first)", tried)
	}
}

func FuzzOpen(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.Value, v.Name)
	}
	f.Add("DEV_ENC:gAAAAABlU7gA", "")
	f.Add("DEV_ENC:", "")
	f.Add("_ENC:AAAA", "X")
	kr := keyring(f, keyA, "dev")
	good, _ := kr.Seal("N", []byte("fuzz"))
	f.Fuzz(func(t *testing.T, s, name string) {
		p, err := Parse(s)
		if err == nil && !IsEncrypted(s) {
			t.Fatalf("Parse accepted %q but IsEncrypted is false", s)
		}
		pt, err := kr.Open(s, name)
		if err != nil {
			if pt != nil {
				t.Fatal("plaintext returned with an error")
			}
			return
		}
		// Only values sealed under keyA for dev can open.
		if p == nil || p.Env != "dev" {
			t.Fatalf("opened %q without a valid parse", s)
		}
		if s != good && !p.Legacy {
			// A value that opens must re-encode to itself: the body encoding is canonical.
			if Prefix(p.Env)+p.Body != s {
				t.Fatalf("non-canonical value opened: %q", s)
			}
		}
	})
}

func BenchmarkDerive(b *testing.B) {
	k := mustKey(b, keyA)
	for i := 0; i < b.N; i++ {
		_ = k.Stretch(Salt("dev"))
	}
}

func BenchmarkSeal(b *testing.B) {
	kr := keyring(b, keyA, "dev")
	pt := []byte("a typical secret value of 32 by")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := kr.Seal("API_KEY_SECRET", pt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	kr := keyring(b, keyA, "dev")
	v, _ := kr.Seal("API_KEY_SECRET", []byte("a typical secret value of 32 by"))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := kr.Open(v, "API_KEY_SECRET"); err != nil {
			b.Fatal(err)
		}
	}
}

// oldSplitPrefix is the definition splitPrefix had before it stopped
// allocating: the lower-cased prefix is a valid environment name and
// upper-cases back to the prefix as written.
func oldSplitPrefix(s string) (env, body string, ok bool) {
	i := strings.Index(s, suffix)
	if i <= 0 {
		return "", "", false
	}
	env = strings.ToLower(s[:i])
	if !masterkey.ValidEnv(env) || strings.ToUpper(env) != s[:i] {
		return "", "", false
	}
	return env, s[i+len(suffix):], true
}

// FuzzSplitPrefix: the allocation-free prefix check accepts exactly what the
// old one did (including non-ASCII that lower-cases to ASCII, such as the
// Kelvin sign), and IsEncrypted agrees with it.
func FuzzSplitPrefix(f *testing.F) {
	for _, s := range []string{"DEV_ENC:abc", "PROD_ENC:", "dev_ENC:x", "_ENC:x", "EU-WEST_2_ENC:x",
		"\u212a_ENC:x", "D\u0130V_ENC:x", "DEV", "9DEV_ENC:x", "DEV_ENC:DEV_ENC:x", "DÉV_ENC:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		env, body, ok := splitPrefix(s)
		wenv, wbody, wok := oldSplitPrefix(s)
		if env != wenv || body != wbody || ok != wok {
			t.Fatalf("splitPrefix(%q) = %q, %q, %v; the old rule gives %q, %q, %v", s, env, body, ok, wenv, wbody, wok)
		}
		if IsEncrypted(s) != ok {
			t.Fatalf("IsEncrypted(%q) = %v, splitPrefix says %v", s, !ok, ok)
		}
	})
}
