// Package masterkey holds keysmith's 256-bit master keys: how they are written
// (standard or URL-safe base64, or 64 hex digits), how they are identified (a
// key ID that reveals nothing about the key) and how they are stretched
// (PBKDF2-HMAC-SHA256, 100,000 iterations). It implements the "Master keys"
// part of docs/keys.md and the key derivation of docs/format.md.
package masterkey

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/pbkdf2"
)

const (
	// Size is the length of a master key in bytes.
	Size = 32
	// IDSize is the length of a key ID in bytes; it is shown as 16 hex digits.
	IDSize = 8
	// Iterations is the PBKDF2 iteration count used to stretch master keys.
	Iterations = 100_000

	idLabel = "keysmith/v1/key-id"
)

// ErrInvalidKey reports a key that is not 32 bytes in one of the accepted
// encodings. Its messages never contain the key.
var ErrInvalidKey = errors.New("invalid master key")

// ValidEnv reports whether name is a valid environment name: [a-z][a-z0-9_-]*.
// It runs for every encrypted value a command reads, so it is a loop, not a
// regexp (a regexp match here was 1.5% of `keysmith run` on 1000 values).
func ValidEnv(name string) bool {
	if name == "" || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// ID identifies a master key: the first 8 bytes of HMAC-SHA256(key,
// "keysmith/v1/key-id"). It is a PRF output, so it says nothing about the key.
type ID [IDSize]byte

// String returns the ID as 16 lowercase hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID parses 16 hex digits.
func ParseID(s string) (ID, error) {
	var id ID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != IDSize {
		return id, fmt.Errorf("key ID %q is not %d hex digits", s, 2*IDSize)
	}
	copy(id[:], b)
	return id, nil
}

// Key is a master key. The zero Key is not valid.
type Key struct {
	b    [Size]byte
	text string // as written, for the legacy KDF whose input is the key text
	id   ID
}

// New returns a Key for 32 raw bytes; its text is standard base64.
func New(b []byte) (Key, error) {
	if len(b) != Size {
		return Key{}, fmt.Errorf("%w: key is %d bytes, want %d", ErrInvalidKey, len(b), Size)
	}
	var k Key
	copy(k.b[:], b)
	k.text = base64.StdEncoding.EncodeToString(b)
	k.id = computeID(k.b[:])
	return k, nil
}

// Generate returns a fresh random key read from r (crypto/rand if nil).
func Generate(r io.Reader) (Key, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [Size]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Key{}, fmt.Errorf("generating key: %w", err)
	}
	return New(b[:])
}

// Parse decodes a key written as 64 hex digits or as standard or URL-safe
// base64 (padding optional). Surrounding white space is ignored. Errors say
// what was found (a length, never the key).
func Parse(s string) (Key, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Key{}, fmt.Errorf("%w: key is empty", ErrInvalidKey)
	}
	var raw []byte
	switch {
	case len(s) == 2*Size && isHex(s):
		raw, _ = hex.DecodeString(s)
	case isHex(s) && len(s) != 43 && len(s) != 44 && len(s) > 2*Size-8:
		// Not a base64 length for 32 bytes: almost certainly mistyped hex.
		return Key{}, fmt.Errorf("%w: key has %d hex digits, want 64", ErrInvalidKey, len(s))
	default:
		var err error
		raw, err = decodeBase64(s)
		if err != nil {
			return Key{}, fmt.Errorf("%w: key is neither 64 hex digits nor base64 (%d characters)", ErrInvalidKey, len(s))
		}
	}
	if len(raw) != Size {
		return Key{}, fmt.Errorf("%w: key decodes to %d bytes, want %d", ErrInvalidKey, len(raw), Size)
	}
	k, _ := New(raw)
	k.text = s
	return k, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func decodeBase64(s string) ([]byte, error) {
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return enc.Strict().DecodeString(s)
}

func computeID(b []byte) ID {
	m := hmac.New(sha256.New, b)
	m.Write([]byte(idLabel))
	var id ID
	copy(id[:], m.Sum(nil))
	return id
}

// Valid reports whether k holds a key (the zero Key does not).
func (k Key) Valid() bool { return k.text != "" }

// Bytes returns a copy of the 32 key bytes.
func (k Key) Bytes() []byte { b := k.b; return b[:] }

// Text returns the key as it was written.
func (k Key) Text() string { return k.text }

// Encode returns the key as standard base64, the form keysmith writes.
func (k Key) Encode() string { return base64.StdEncoding.EncodeToString(k.b[:]) }

// ID returns the key ID.
func (k Key) ID() ID { return k.id }

// Equal reports whether two keys have the same bytes.
func (k Key) Equal(o Key) bool { return hmac.Equal(k.b[:], o.b[:]) }

// String never prints key material, so a Key in a log or error is harmless.
func (k Key) String() string { return "masterkey(" + k.id.String() + ")" }

// GoString never prints key material either.
func (k Key) GoString() string { return k.String() }

// Stretch derives a 32-byte key from k with PBKDF2-HMAC-SHA256, Iterations
// iterations and the given salt. It is slow on purpose (tens of
// milliseconds): callers derive once per purpose per process.
func (k Key) Stretch(salt string) []byte {
	return pbkdf2.Key(k.b[:], []byte(salt), Iterations, Size, sha256.New)
}
