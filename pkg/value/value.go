// Package value seals and opens single config values in keysmith's
// environment-prefixed format, "<ENV>_ENC:<body>", as specified byte by byte
// in docs/format.md. A Keyring holds one environment's keys; it derives each
// AES key once (PBKDF2, see masterkey.Key.Stretch) and then seals and opens
// any number of values.
package value

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/keysmith/keysmith/pkg/legacy"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/seal"
)

const (
	// Version1 is the first byte of every body keysmith writes. Fernet tokens
	// start with 0x80, so the two can never be confused (a v1 body's base64
	// starts with "A", a Fernet token's with "g").
	Version1 = 0x01
	// FlagName marks a value whose associated data binds a variable name.
	FlagName = 0x01

	headerSize = 2 + masterkey.IDSize
	// MinBodySize is the smallest decoded v1 body: header, nonce and tag.
	MinBodySize = headerSize + seal.Overhead

	adLabel   = "keysmith/v1/value"
	saltLabel = "keysmith/v1/kdf-salt/"
	suffix    = "_ENC:"
)

// Sentinel errors, tested with errors.Is.
var (
	ErrMalformed        = errors.New("malformed encrypted value")
	ErrWrongEnvironment = errors.New("value is for another environment")
	ErrUnauthenticated  = errors.New("wrong key or tampered data")
	ErrUnknownKey       = errors.New("value was sealed with a key that is not available")
	ErrNameRequired     = errors.New("value is bound to a variable name")
	ErrLegacyDisabled   = errors.New("legacy value cannot be opened")
)

// Salt returns the fixed PBKDF2 salt of an environment.
func Salt(env string) string { return saltLabel + env }

// Prefix returns "<ENV>_ENC:" for an environment.
func Prefix(env string) string { return strings.ToUpper(env) + suffix }

// Parsed is a value split into its parts, before any key is used.
type Parsed struct {
	Env    string // lower case
	Legacy bool   // a Fernet token from the older Python design
	Body   string // the text after the prefix
	Flags  byte
	KeyID  masterkey.ID
	raw    []byte // decoded v1 body
}

// IsEncrypted reports whether s has the form of an encrypted value,
// "<ENV>_ENC:" followed by something. It does not check the body.
func IsEncrypted(s string) bool { return prefixLen(s) >= 0 }

func splitPrefix(s string) (env, body string, ok bool) {
	i := prefixLen(s)
	if i < 0 {
		return "", "", false
	}
	return strings.ToLower(s[:i]), s[i+len(suffix):], true
}

// prefixLen returns the length of the environment part of s's "<ENV>_ENC:"
// prefix, or -1: ENV is an environment name in upper case, [A-Z][A-Z0-9_-]*,
// exactly what strings.ToUpper of a valid environment name gives. It does
// not allocate (IsEncrypted runs on every value of every file read).
func prefixLen(s string) int {
	i := strings.Index(s, suffix)
	if i <= 0 || s[0] < 'A' || s[0] > 'Z' {
		return -1
	}
	for j := 1; j < i; j++ {
		c := s[j]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return -1
		}
	}
	return i
}

// Parse splits an encrypted value and checks its framing. It returns
// ErrMalformed (wrapped, with what was wrong) for anything that is not a
// well-formed v1 body or Fernet token.
func Parse(s string) (*Parsed, error) {
	env, body, ok := splitPrefix(s)
	if !ok {
		return nil, fmt.Errorf("%w: no <ENV>_ENC: prefix", ErrMalformed)
	}
	p := &Parsed{Env: env, Body: body}
	if strings.HasPrefix(body, "gAAAA") {
		if !legacy.IsToken(body) {
			return nil, fmt.Errorf("%w: body starts like a Fernet token but is not one", ErrMalformed)
		}
		p.Legacy = true
		return p, nil
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("%w: body is not unpadded base64url", ErrMalformed)
	}
	if len(raw) < MinBodySize {
		return nil, fmt.Errorf("%w: body is %d bytes, at least %d expected", ErrMalformed, len(raw), MinBodySize)
	}
	if raw[0] != Version1 {
		return nil, fmt.Errorf("%w: unknown format version 0x%02x", ErrMalformed, raw[0])
	}
	if raw[1]&^FlagName != 0 {
		return nil, fmt.Errorf("%w: unknown flags 0x%02x", ErrMalformed, raw[1])
	}
	p.Flags = raw[1]
	copy(p.KeyID[:], raw[2:headerSize])
	p.raw = raw
	return p, nil
}

// NameBound reports whether the value binds a variable name.
func (p *Parsed) NameBound() bool { return p.Flags&FlagName != 0 }

// EnvError is returned when a value's environment is not the selected one.
type EnvError struct{ Value, Selected string }

func (e *EnvError) Error() string {
	return fmt.Sprintf("value is for environment %s, but the selected environment is %s", e.Value, e.Selected)
}

func (e *EnvError) Unwrap() error { return ErrWrongEnvironment }

// LegacyFunc opens the body of a Fernet value with one master key.
type LegacyFunc func(key masterkey.Key, token string) ([]byte, error)

// Keyring holds the keys of one environment: the current key, which seals,
// and retired keys, which only open. Keys are stretched lazily, once each.
// A Keyring is safe for concurrent use.
type Keyring struct {
	env     string
	current masterkey.ID
	order   []masterkey.ID // current first, then retired
	keys    map[masterkey.ID]*derived
	legacy  LegacyFunc
	extra   []func(token string) ([]byte, error) // AddLegacyOpener: no key, never seals
	rand    io.Reader                            // nonce source; nil means crypto/rand (tests set it)
}

type derived struct {
	key  masterkey.Key
	once sync.Once
	aead *seal.AEAD
	err  error
}

// NewKeyring returns a keyring for env with a current key and any number of
// retired keys.
func NewKeyring(env string, current masterkey.Key, retired ...masterkey.Key) *Keyring {
	kr := &Keyring{env: env, current: current.ID(), keys: map[masterkey.ID]*derived{}}
	for _, k := range append([]masterkey.Key{current}, retired...) {
		if _, dup := kr.keys[k.ID()]; dup {
			continue
		}
		kr.keys[k.ID()] = &derived{key: k}
		kr.order = append(kr.order, k.ID())
	}
	return kr
}

// Env returns the keyring's environment.
func (kr *Keyring) Env() string { return kr.env }

// CurrentID returns the ID of the key that seals.
func (kr *Keyring) CurrentID() masterkey.ID { return kr.current }

// Has reports whether id is one of the keyring's keys, current or retired.
func (kr *Keyring) Has(id masterkey.ID) bool {
	_, ok := kr.keys[id]
	return ok
}

// SetLegacy enables opening Fernet values from the older Python design.
func (kr *Keyring) SetLegacy(f LegacyFunc) { kr.legacy = f }

// AddLegacyOpener adds a way to open Fernet values that is not a master key:
// a free-text key of the older tool, which never seals (it is not a
// masterkey.Key). It is tried after the keyring's keys. LegacyKeyID does not
// count a value it opens as using any key.
func (kr *Keyring) AddLegacyOpener(open func(token string) ([]byte, error)) {
	kr.extra = append(kr.extra, open)
}

func (kr *Keyring) aead(id masterkey.ID) (*seal.AEAD, error) {
	d, ok := kr.keys[id]
	if !ok {
		return nil, fmt.Errorf("%w: key ID %s is not among the %s keys (current key ID %s)", ErrUnknownKey, id, kr.env, kr.current)
	}
	d.once.Do(func() {
		if kr.rand != nil {
			d.aead, d.err = seal.NewWithRand(d.key.Stretch(Salt(kr.env)), kr.rand)
		} else {
			d.aead, d.err = seal.New(d.key.Stretch(Salt(kr.env)))
		}
	})
	return d.aead, d.err
}

// Warm derives the current key now, so later calls do no slow work.
func (kr *Keyring) Warm() error {
	_, err := kr.aead(kr.current)
	return err
}

// WarmFor derives the key that opens the encrypted value s, so that a
// command can stretch it on one core while it reads the rest of its input on
// another. It does nothing for a value that does not parse, is of another
// environment, is a legacy token or names a key the keyring lacks: opening
// it later reports what is wrong. Safe to call from another goroutine than
// Open's (derivation happens once per key either way).
func (kr *Keyring) WarmFor(s string) {
	p, err := Parse(s)
	if err == nil && p.Env == kr.env && !p.Legacy {
		_, _ = kr.aead(p.KeyID) // an unknown key ID is an error here and later
	}
}

func associatedData(header []byte, env, name string) []byte {
	return seal.AD(adLabel, header, []byte(env), []byte(name))
}

// Seal encrypts plaintext under the current key. A non-empty name is bound
// into the associated data: the value then opens only under that name.
func (kr *Keyring) Seal(name string, plaintext []byte) (string, error) {
	a, err := kr.aead(kr.current)
	if err != nil {
		return "", err
	}
	header := make([]byte, headerSize, headerSize+seal.Overhead+len(plaintext))
	header[0] = Version1
	if name != "" {
		header[1] = FlagName
	}
	copy(header[2:], kr.current[:])
	body, err := a.Seal(header, plaintext, associatedData(header[:headerSize], kr.env, name))
	if err != nil {
		return "", err
	}
	return Prefix(kr.env) + base64.RawURLEncoding.EncodeToString(body), nil
}

// Open decrypts a value. name is the variable the value was read from ("" for
// a lone value); it must match the bound name of a name-bound value. Errors
// wrap the sentinels above and never contain plaintext.
func (kr *Keyring) Open(s, name string) ([]byte, error) {
	p, err := Parse(s)
	if err != nil {
		return nil, err
	}
	return kr.OpenParsed(p, name)
}

// OpenParsed is Open for a value already parsed.
func (kr *Keyring) OpenParsed(p *Parsed, name string) ([]byte, error) {
	if p.Env != kr.env {
		return nil, &EnvError{Value: p.Env, Selected: kr.env}
	}
	if p.Legacy {
		return kr.openLegacy(p.Body)
	}
	if !p.NameBound() {
		name = ""
	} else if name == "" {
		return nil, fmt.Errorf("%w: give the name it was sealed under (--name)", ErrNameRequired)
	}
	a, err := kr.aead(p.KeyID)
	if err != nil {
		return nil, err
	}
	pt, err := a.Open(nil, p.raw[headerSize:], associatedData(p.raw[:headerSize], kr.env, name))
	if err != nil {
		return nil, fmt.Errorf("%w: value does not open for environment %s with key ID %s", ErrUnauthenticated, kr.env, p.KeyID)
	}
	return pt, nil
}

// openLegacy opens a Fernet token. Fernet carries no key ID, so this is the
// one place where keys are tried in turn: the current key, then retired keys.
func (kr *Keyring) openLegacy(token string) ([]byte, error) {
	pt, _, err := kr.legacyOpen(token)
	return pt, err
}

// LegacyKeyID returns the ID of the key that opens a legacy (Fernet) value:
// since the token names no key, the keys are tried in turn. It is how
// "key retire" tells whether a retired key is still needed. ok is false when
// no key of the keyring opens it.
func (kr *Keyring) LegacyKeyID(p *Parsed) (id masterkey.ID, ok bool) {
	if !p.Legacy || p.Env != kr.env {
		return id, false
	}
	_, id, err := kr.legacyOpen(p.Body)
	return id, err == nil && id != (masterkey.ID{})
}

func (kr *Keyring) legacyOpen(token string) ([]byte, masterkey.ID, error) {
	if kr.legacy == nil {
		return nil, masterkey.ID{}, fmt.Errorf("%w: legacy support is not configured", ErrLegacyDisabled)
	}
	var last error
	for _, id := range kr.order {
		pt, err := kr.legacy(kr.keys[id].key, token)
		if err == nil {
			return pt, id, nil
		}
		last = err
	}
	for _, open := range kr.extra {
		pt, err := open(token)
		if err == nil {
			return pt, masterkey.ID{}, nil
		}
		last = err
	}
	return nil, masterkey.ID{}, fmt.Errorf("%w: legacy value does not open for environment %s with any of its keys: %v", ErrUnauthenticated, kr.env, last)
}
