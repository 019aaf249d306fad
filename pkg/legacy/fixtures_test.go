package legacy

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// pythonFixtures is testdata/legacy/python-fixtures.json, written by
// scripts/make-legacy-fixtures.py with Python's cryptography package.
type pythonFixtures struct {
	Iterations int            `json:"iterations"`
	SignedAt   int64          `json:"signed_at"`
	Groups     []fixtureGroup `json:"groups"`
}

type fixtureGroup struct {
	Env       string  `json:"env"`
	KeyText   string  `json:"key_text"`
	KeyHex    string  `json:"key_hex"`
	Salt      *string `json:"salt"` // nil: the default
	SaltHex   string  `json:"salt_hex"`
	KDFInput  string  `json:"kdf_input"`
	FernetKey string  `json:"fernet_key"`
	Values    []struct {
		Plaintext string `json:"plaintext"`
		Token     string `json:"token"`
	} `json:"values"`
}

var fixtureDir = filepath.Join("..", "..", "testdata", "legacy")

var loadFixtures = sync.OnceValues(func() (*pythonFixtures, error) {
	b, err := os.ReadFile(filepath.Join(fixtureDir, "python-fixtures.json"))
	if err != nil {
		return nil, err
	}
	var fx pythonFixtures
	if err := json.Unmarshal(b, &fx); err != nil {
		return nil, err
	}
	if len(fx.Groups) == 0 {
		return nil, errors.New("no fixture groups")
	}
	return &fx, nil
})

func fixtures(tb testing.TB) *pythonFixtures {
	tb.Helper()
	fx, err := loadFixtures()
	if err != nil {
		tb.Fatalf("loading python fixtures: %v", err)
	}
	return fx
}

// keyBytes is what the group's key text decodes to; the test checks it
// against key_hex so the fixture cannot drift from its own key text.
func (g *fixtureGroup) keyBytes(tb testing.TB) []byte {
	tb.Helper()
	want, err := hex.DecodeString(g.KeyHex)
	if err != nil || len(want) != 32 {
		tb.Fatalf("bad key_hex in fixture %s", g.Env)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		if got, err := enc.DecodeString(g.KeyText); err == nil && bytes.Equal(got, want) {
			return want
		}
	}
	tb.Fatalf("fixture %s: key_text does not decode to key_hex", g.Env)
	return nil
}

// settings parses the group's config settings the way keysmith will.
func (g *fixtureGroup) settings(tb testing.TB) (salt []byte, mode KDFInput) {
	tb.Helper()
	if g.Salt == nil {
		salt = DefaultSalt(g.Env)
	} else {
		var err error
		if salt, err = ParseSalt(*g.Salt); err != nil {
			tb.Fatalf("fixture %s: ParseSalt(%q): %v", g.Env, *g.Salt, err)
		}
	}
	if got := hex.EncodeToString(salt); got != g.SaltHex {
		tb.Fatalf("fixture %s: salt %s, python used %s", g.Env, got, g.SaltHex)
	}
	mode, err := ParseKDFInput(g.KDFInput)
	if err != nil {
		tb.Fatal(err)
	}
	return salt, mode
}

// input returns the PBKDF2 input for the given kdf_input mode.
func (g *fixtureGroup) input(tb testing.TB, mode KDFInput) []byte {
	tb.Helper()
	if mode == KDFBytes {
		return g.keyBytes(tb)
	}
	return []byte(g.KeyText)
}

var (
	openersMu sync.Mutex
	openers   = map[int]*Opener{}
)

// opener derives group i's key once per test binary (100,000 real
// iterations) and shares it between tests, the fuzz target and benchmarks.
func opener(tb testing.TB, i int) *Opener {
	tb.Helper()
	openersMu.Lock()
	defer openersMu.Unlock()
	if o, ok := openers[i]; ok {
		return o
	}
	g := &fixtures(tb).Groups[i]
	salt, mode := g.settings(tb)
	o, err := NewOpener(g.input(tb, mode), salt)
	if err != nil {
		tb.Fatal(err)
	}
	openers[i] = o
	return o
}

func TestFixtureFile(t *testing.T) {
	fx := fixtures(t)
	if fx.Iterations != Iterations {
		t.Errorf("fixtures made with %d iterations, package uses %d", fx.Iterations, Iterations)
	}
	modes := map[string]bool{}
	defaults, custom := 0, 0
	for _, g := range fx.Groups {
		modes[g.KDFInput] = true
		if g.Salt == nil {
			defaults++
		} else {
			custom++
		}
		if len(g.Values) == 0 {
			t.Errorf("fixture %s has no values", g.Env)
		}
	}
	if !modes["text"] || !modes["bytes"] || defaults == 0 || custom == 0 {
		t.Errorf("fixtures must cover both kdf_input modes and default and custom salts")
	}
}

// TestDeriveMatchesPython runs the real 100,000-iteration derivation for
// every fixture group and compares the key with the one Python derived.
func TestDeriveMatchesPython(t *testing.T) {
	for i, g := range fixtures(t).Groups {
		o := opener(t, i)
		if got := o.key.Encode(); got != g.FernetKey {
			t.Errorf("group %d (%s, %s): derived key differs from python's", i, g.Env, g.KDFInput)
		}
	}
}

func TestOpenPythonFixtures(t *testing.T) {
	n := 0
	for i, g := range fixtures(t).Groups {
		o := opener(t, i)
		for j, v := range g.Values {
			if !IsToken(v.Token) {
				t.Errorf("group %d value %d: IsToken = false", i, j)
			}
			got, err := o.Open(v.Token)
			if err != nil {
				t.Errorf("group %d (%s, %s) value %d: %v", i, g.Env, g.KDFInput, j, err)
				continue
			}
			if string(got) != v.Plaintext {
				t.Errorf("group %d value %d: got %.40q (%d bytes), want %.40q (%d bytes)", i, j, got, len(got), v.Plaintext, len(v.Plaintext))
			}
			n++
		}
	}
	t.Logf("opened %d python tokens", n)
}

// TestOpenWrongSettings opens every group's tokens with one thing wrong.
func TestOpenWrongSettings(t *testing.T) {
	fx := fixtures(t)
	for i := range fx.Groups {
		g := &fx.Groups[i]
		salt, mode := g.settings(t)
		other := 1 - mode // the other kdf_input

		var otherKey *fixtureGroup
		for k := range fx.Groups {
			if fx.Groups[k].KeyText != g.KeyText {
				otherKey = &fx.Groups[k]
				break
			}
		}
		if otherKey == nil {
			t.Fatal("fixtures need at least two master keys")
		}

		cases := []struct {
			name        string
			input, salt []byte
		}{
			{"wrong key", otherKey.input(t, mode), salt},
			{"wrong salt", g.input(t, mode), append(bytes.Clone(salt), 'x')},
			{"wrong kdf_input", g.input(t, other), salt},
		}
		if !bytes.Equal(salt, DefaultSalt(g.Env)) { // e.g. "base64:Y2k=" for ci is the default
			cases = append(cases, struct {
				name        string
				input, salt []byte
			}{"default salt instead of configured", g.input(t, mode), DefaultSalt(g.Env)})
		}
		for _, c := range cases {
			t.Run(g.Env+"/"+g.KDFInput+"/"+c.name, func(t *testing.T) {
				o, err := NewOpener(c.input, c.salt)
				if err != nil {
					t.Fatal(err)
				}
				for j, v := range g.Values {
					got, err := o.Open(v.Token)
					if !errors.Is(err, ErrUnauthenticated) || got != nil {
						t.Errorf("value %d: got %.20q, %v; want ErrUnauthenticated", j, got, err)
					}
				}
			})
		}
	}
}

// TestOpenTampered changes Python tokens and expects the right sentinel.
func TestOpenTampered(t *testing.T) {
	fx := fixtures(t)
	o := opener(t, 0)
	for j, v := range fx.Groups[0].Values {
		raw, err := base64.URLEncoding.DecodeString(v.Token)
		if err != nil {
			t.Fatal(err)
		}
		n := len(raw)
		// Bit flips: every field of the token.
		flips := []struct {
			name string
			pos  int
			want error
		}{
			{"version", 0, ErrMalformed},
			{"timestamp high", 1, ErrMalformed}, // breaks the "gAAAA" prefix
			{"timestamp low", 8, ErrUnauthenticated},
			{"iv first", 9, ErrUnauthenticated},
			{"iv last", 24, ErrUnauthenticated},
			{"ciphertext first", 25, ErrUnauthenticated},
			{"ciphertext last", n - 33, ErrUnauthenticated},
			{"hmac first", n - 32, ErrUnauthenticated},
			{"hmac last", n - 1, ErrUnauthenticated},
		}
		for _, f := range flips {
			for _, bit := range []byte{0x01, 0x80} {
				b := bytes.Clone(raw)
				b[f.pos] ^= bit
				tok := base64.URLEncoding.EncodeToString(b)
				got, err := o.Open(tok)
				if !errors.Is(err, f.want) || got != nil {
					t.Errorf("value %d, %s bit %#x: got %.20q, %v; want %v", j, f.name, bit, got, err, f.want)
				}
			}
		}

		// Truncations of the bytes: a whole block off still has the shape of
		// a token and fails authentication; anything else is malformed.
		for _, cut := range []int{1, 15, 16, 17, 32, n - minTokenLen, n - minTokenLen + 1, n - 1} {
			if cut <= 0 || cut >= n {
				continue
			}
			tok := base64.URLEncoding.EncodeToString(raw[:n-cut])
			want := ErrMalformed
			if n-cut >= minTokenLen && cut%16 == 0 {
				want = ErrUnauthenticated
			}
			if got, err := o.Open(tok); !errors.Is(err, want) || got != nil {
				t.Errorf("value %d cut %d bytes: got %.20q, %v; want %v", j, cut, got, err, want)
			}
		}
		// Truncations of the text.
		for _, cut := range []int{1, 2, 3, 4, 5, len(v.Token) / 2, len(v.Token) - 1} {
			tok := v.Token[:len(v.Token)-cut]
			want := ErrMalformed
			if b, err := base64.URLEncoding.DecodeString(tok); err == nil &&
				len(b) >= minTokenLen && len(b)%16 == overhead%16 {
				want = ErrUnauthenticated // whole blocks cut off: still token-shaped
			}
			if got, err := o.Open(tok); !errors.Is(err, want) || got != nil {
				t.Errorf("value %d cut %d chars: got %.20q, %v; want %v", j, cut, got, err, want)
			}
		}
	}
}
