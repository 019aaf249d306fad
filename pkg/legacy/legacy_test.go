package legacy

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fernet/fernet-go"
)

const (
	specSecret = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
	specToken  = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA=="
)

func TestParseKDFInput(t *testing.T) {
	for _, c := range []struct {
		in   string
		want KDFInput
		ok   bool
	}{
		{"text", KDFText, true},
		{"bytes", KDFBytes, true},
		{"", 0, false},
		{"Text", 0, false},
		{"raw", 0, false},
		{" text", 0, false},
	} {
		got, err := ParseKDFInput(c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("ParseKDFInput(%q) = %v, %v", c.in, got, err)
		}
		if c.ok && got.String() != c.in {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
	if DefaultKDFInput != KDFText {
		t.Error("default kdf_input must be text")
	}
}

func TestParseSalt(t *testing.T) {
	bin := []byte{0x00, 0xff, 0xfb, 0xef, 0x3e, '\n'}
	for _, c := range []struct {
		in   string
		want []byte // nil: error
	}{
		{"dev", []byte("dev")},
		{"sälz 🧂", []byte("sälz 🧂")},
		{"  spaced  ", []byte("  spaced  ")},
		{"base64:" + base64.StdEncoding.EncodeToString(bin), bin},
		{"base64:" + base64.RawStdEncoding.EncodeToString(bin[:4]), bin[:4]},
		{"base64:" + base64.URLEncoding.EncodeToString(bin), bin},
		{"base64:" + base64.RawURLEncoding.EncodeToString(bin[:4]), bin[:4]},
		{"base64:ZGV2", []byte("dev")},
		{"BASE64:ZGV2", []byte("BASE64:ZGV2")}, // the prefix is case-sensitive
		{"", []byte{}},                         // an empty salt (issue 8 item 11), not an error
		{"base64:", []byte{}},                  // likewise
		{"base64:not base64!", nil},
		{"base64:ZGV2\n", nil},
		{"base64:ZGV=", nil}, // non-canonical trailing bits
	} {
		got, err := ParseSalt(c.in)
		if c.want == nil {
			if err == nil {
				t.Errorf("ParseSalt(%q) = %x, want error", c.in, got)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("ParseSalt(%q) = %x, %v; want %x", c.in, got, err, c.want)
		}
	}
	if got := DefaultSalt("dev"); string(got) != "dev" {
		t.Errorf("DefaultSalt(dev) = %q", got)
	}
}

func TestNewOpenerRefusesEmpty(t *testing.T) {
	if _, err := NewOpener(nil, []byte("dev")); err == nil {
		t.Error("empty input accepted")
	}
	// An empty salt is a salt: the older tool may have used one.
	if _, err := NewOpener([]byte("key"), nil); err != nil {
		t.Errorf("empty salt: %v", err)
	}
}

func TestOpenWithFernetKeyBadKey(t *testing.T) {
	for _, k := range []string{
		"",
		"cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4",    // unpadded
		"cw/0x689RpI+jtRR7oE8h/eQsKImvJapLeSbXpwF4e4=",   // standard alphabet
		"cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=\n", // trailing newline
		base64.URLEncoding.EncodeToString(make([]byte, 16)),
		"730ff4c7af3d46923e8ed451ee813c87f790b0a226bc96a92de49b5e9c05e1ee", // hex
	} {
		_, err := OpenWithFernetKey(specToken, k)
		if err == nil || errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrMalformed) {
			t.Errorf("key %q: err = %v, want a key error", k, err)
		}
		if k != "" && strings.Contains(err.Error(), strings.TrimSpace(k)) {
			t.Errorf("key %q: error shows the key", k)
		}
	}
}

// TestOnlyCanonicalText checks spellings of a valid token that decode to the
// same bytes under a lenient decoder.
func TestOnlyCanonicalText(t *testing.T) {
	if _, err := OpenWithFernetKey(specToken, specSecret); err != nil {
		t.Fatalf("spec token: %v", err)
	}
	raw, _ := base64.URLEncoding.DecodeString(specToken)
	variants := map[string]string{
		"trailing newline":   specToken + "\n",
		"trailing CRLF":      specToken + "\r\n",
		"embedded newline":   specToken[:40] + "\n" + specToken[40:],
		"leading space":      " " + specToken,
		"trailing space":     specToken + " ",
		"no padding":         strings.TrimRight(specToken, "="),
		"extra padding":      specToken + "==",
		"standard alphabet":  base64.StdEncoding.EncodeToString(raw),
		"trailing data":      specToken + "gAAAA",
		"empty":              "",
		"prefix only":        "gAAAA",
		"non-canonical bits": specToken[:len(specToken)-3] + string(specToken[len(specToken)-3]+1) + "==",
	}
	for name, tok := range variants {
		if tok == specToken {
			t.Fatalf("%s: variant is the token itself", name)
		}
		got, err := OpenWithFernetKey(tok, specSecret)
		if !errors.Is(err, ErrMalformed) || got != nil {
			t.Errorf("%s: got %q, %v; want ErrMalformed", name, got, err)
		}
		if IsToken(tok) {
			t.Errorf("%s: IsToken = true", name)
		}
	}
}

func TestIsToken(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{specToken, true},
		{"", false},
		{"gAAAA", false},
		{"gAAAAAAdwJ6w", false},         // too short
		{"DEV_ENC:" + specToken, false}, // caller strips the prefix
		{"hAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ", false}, // wrong version
		{"age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgp", false},
	} {
		if got := IsToken(c.in); got != c.want {
			t.Errorf("IsToken(%q) = %v", c.in, got)
		}
	}
}

// forge builds a token by hand under k, so tests can make tokens whose MAC is
// right but whose contents no Fernet implementation would write.
func forge(k *fernet.Key, ts uint64, iv, padded []byte) string {
	b := []byte{version}
	b = binary.BigEndian.AppendUint64(b, ts)
	b = append(b, iv...)
	ct := make([]byte, len(padded))
	bc, err := aes.NewCipher(k[16:])
	if err != nil {
		panic(err)
	}
	cipher.NewCBCEncrypter(bc, iv).CryptBlocks(ct, padded)
	b = append(b, ct...)
	m := hmac.New(sha256.New, k[:16])
	m.Write(b)
	return base64.URLEncoding.EncodeToString(m.Sum(b))
}

func TestForgedTokens(t *testing.T) {
	var k fernet.Key
	copy(k[:], bytes.Repeat([]byte{7}, 32))
	iv := bytes.Repeat([]byte{1}, 16)
	o := &Opener{key: k}

	block := func(s string, pad byte) []byte {
		b := []byte(s)
		for len(b)%16 != 0 || len(b) == 0 {
			b = append(b, pad)
		}
		return b
	}
	for _, c := range []struct {
		name   string
		padded []byte
		ts     uint64
		want   error
		open   string
	}{
		{"good", block("hello", 11), 1, nil, "hello"},
		{"good full padding block", append(block("0123456789abcdef", 0), bytes.Repeat([]byte{16}, 16)...), 1, nil, "0123456789abcdef"},
		{"timestamp zero", block("hello", 11), 0, nil, "hello"},
		{"timestamp far future", block("hello", 11), 1 << 41, nil, "hello"},
		// fernet-go accepts these; PKCS #7 and Python do not.
		{"padding byte zero", block("0123456789abcdef", 0), 1, ErrUnauthenticated, ""},
		{"padding byte 32", bytes.Repeat([]byte{32}, 32), 1, ErrUnauthenticated, ""},
		{"padding byte 17", append([]byte("x"), bytes.Repeat([]byte{17}, 31)...), 1, ErrUnauthenticated, ""},
		{"padding bytes differ", append([]byte("hello world!"), 4, 4, 3, 4), 1, ErrUnauthenticated, ""},
		// fernet-go panics on these if they reach it with a valid MAC.
		{"no ciphertext", nil, 1, ErrMalformed, ""},
		// Beyond the year 139,000: not "gAAAA".
		{"timestamp 2^42", block("hello", 11), 1 << 42, ErrMalformed, ""},
	} {
		tok := forge(&k, c.ts, iv, c.padded)
		got, err := o.Open(tok)
		if c.want == nil {
			if err != nil || string(got) != c.open {
				t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.open)
			}
			continue
		}
		if !errors.Is(err, c.want) || got != nil {
			t.Errorf("%s: got %q, %v; want %v", c.name, got, err, c.want)
		}
	}

	// A short token whose MAC covers fewer bytes than a header: fernet-go
	// would slice out of range after checking the MAC.
	b := []byte{version, 0, 0, 0, 0, 0, 0, 1}
	m := hmac.New(sha256.New, k[:16])
	m.Write(b)
	short := base64.URLEncoding.EncodeToString(m.Sum(b))
	if _, err := o.Open(short); !errors.Is(err, ErrMalformed) {
		t.Errorf("short authenticated token: %v, want ErrMalformed", err)
	}
}

func TestEmptyMessageIsNotNil(t *testing.T) {
	var k fernet.Key
	tok := forge(&k, 1, make([]byte, 16), bytes.Repeat([]byte{16}, 16))
	got, err := (&Opener{key: k}).Open(tok)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("got %#v, %v; want empty non-nil", got, err)
	}
}

func TestNoSecretsInOutput(t *testing.T) {
	o, err := NewOpener([]byte("kx1sIjwy+EbC1cxkpQixIDnYASkTvm9DTrsmzFaFJNY="), []byte("dev"))
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(verb, o); s != "legacy.Opener" {
			t.Errorf("%s of an Opener = %q", verb, s)
		}
	}
	// Errors name the problem, never the token.
	_, err = o.Open(specToken)
	tampered := specToken[:30] + "A" + specToken[31:]
	_, err2 := o.Open(tampered + "\n")
	for _, e := range []error{err, err2} {
		if e == nil || strings.Contains(e.Error(), specToken[10:40]) {
			t.Errorf("error %v shows the token", e)
		}
	}
}
