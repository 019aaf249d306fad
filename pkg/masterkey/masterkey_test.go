package masterkey

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

var raw = func() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

func TestParseEncodings(t *testing.T) {
	for _, s := range []string{
		hex.EncodeToString(raw),
		strings.ToUpper(hex.EncodeToString(raw)),
		base64.StdEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
		"  " + base64.StdEncoding.EncodeToString(raw) + "\n",
	} {
		k, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if !bytes.Equal(k.Bytes(), raw) {
			t.Fatalf("Parse(%q) = %x", s, k.Bytes())
		}
		if k.Text() != strings.TrimSpace(s) {
			t.Fatalf("Text = %q", k.Text())
		}
	}
}

func TestParseErrorsNameLengthNotKey(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(raw[:24])
	cases := map[string]string{
		"":                                 "key is empty",
		short:                              "decodes to 24 bytes, want 32",
		"not base64 at all!!":              "neither 64 hex digits nor base64 (19 characters)",
		hex.EncodeToString(raw)[:60]:       "key has 60 hex digits, want 64",
		hex.EncodeToString(raw)[:63] + "g": "decodes to 48 bytes",
	}
	for in, want := range cases {
		_, err := Parse(in)
		if err == nil || !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("Parse(%q) err = %v", in, err)
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %q, want it to contain %q", in, err, want)
		}
		if in != "" && strings.Contains(err.Error(), strings.TrimSpace(in)) {
			t.Errorf("error echoes the key: %v", err)
		}
	}
}

// TestKeyIDVector pins the key ID: HMAC-SHA256(key, "keysmith/v1/key-id")[:8],
// cross-checked with Python in testdata/value/vectors.json.
func TestKeyIDVector(t *testing.T) {
	k, _ := New(raw)
	if got, want := k.ID().String(), "8c04e668023129e1"; got != want {
		t.Fatalf("ID = %s, want %s", got, want)
	}
	id, err := ParseID("8c04e668023129e1")
	if err != nil || id != k.ID() {
		t.Fatalf("ParseID: %v", err)
	}
	if _, err := ParseID("8c04"); err == nil {
		t.Fatal("short ID accepted")
	}
}

// TestStretchVector runs the real 100,000 iterations against a value
// computed with Python's hashlib.pbkdf2_hmac.
func TestStretchVector(t *testing.T) {
	k, _ := New(raw)
	got := hex.EncodeToString(k.Stretch("keysmith/v1/kdf-salt/dev"))
	const want = "7d69fb5b7d88fe916180e9846aecce92b785fe0e2d022149f6f3b42188a03193"
	if got != want {
		t.Fatalf("Stretch = %s, want %s", got, want)
	}
}

func TestKeyNeverPrints(t *testing.T) {
	k, _ := New(raw)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
		if strings.Contains(s, k.Encode()) || strings.Contains(s, hex.EncodeToString(raw)) {
			t.Fatalf("key material printed: %s", s)
		}
	}
}

func TestGenerate(t *testing.T) {
	a, err := Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate(nil)
	if a.Equal(b) || !a.Valid() {
		t.Fatal("Generate returned equal or invalid keys")
	}
	if _, err := Generate(bytes.NewReader(make([]byte, 5))); err == nil {
		t.Fatal("short random source accepted")
	}
}

// validEnvRE is the rule ValidEnv implements by hand, as documented.
var validEnvRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

func TestValidEnv(t *testing.T) {
	for name, want := range map[string]bool{
		"dev": true, "prod": true, "a": true, "eu-west_2": true, "x9": true,
		"": false, "Dev": false, "9x": false, "-x": false, "_x": false, "de v": false,
		"dev\n": false, "dév": false, "dev.prod": false, "DEV": false,
	} {
		if got := ValidEnv(name); got != want {
			t.Errorf("ValidEnv(%q) = %v, want %v", name, got, want)
		}
	}
}

// FuzzValidEnv: ValidEnv agrees with the regexp of its documentation on any input.
func FuzzValidEnv(f *testing.F) {
	for _, s := range []string{"dev", "prod-2", "", "Dev", "a_b", "\xff", "z\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidEnv(s), validEnvRE.MatchString(s); got != want {
			t.Fatalf("ValidEnv(%q) = %v, the regexp says %v", s, got, want)
		}
	})
}
