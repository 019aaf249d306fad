// Package legacy opens values written by keysmith's older Python design,
// `<ENV>_ENC:<fernet token>`, as specified in docs/legacy.md.
//
// The token is a Fernet token (https://github.com/fernet/spec) under a key
// derived with PBKDF2-HMAC-SHA256 (100,000 iterations, 32 bytes) from the
// master key and a per-environment salt. The token's timestamp is never
// checked: old values open forever. keysmith only reads this format; it never
// writes it.
//
// Deriving the key is slow on purpose, so an [Opener] derives it once and then
// opens any number of tokens.
package legacy

import (
	"crypto/aes"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/fernet/fernet-go"
)

// Iterations is the PBKDF2-HMAC-SHA256 iteration count of the legacy format.
const Iterations = 100_000

const (
	version     byte = 0x80
	headerLen        = 1 + 8 + aes.BlockSize // version, timestamp, IV
	overhead         = headerLen + sha256.Size
	minTokenLen      = overhead + aes.BlockSize // an empty message still has a block of padding

	// tokenPrefix is how every token starts in text: the version byte and the
	// top 22 bits of the timestamp, which are zero for any time before the
	// year 139,000.
	tokenPrefix = "gAAAA"
)

var (
	// ErrUnauthenticated means the token is well formed but does not open
	// under this key: the key, salt or kdf_input is wrong, or the token was
	// altered. The two cases are deliberately not told apart.
	ErrUnauthenticated = errors.New("legacy: wrong key or tampered value")

	// ErrMalformed means the text is not a Fernet token at all. It is
	// returned, wrapped with the reason, before any key is used.
	ErrMalformed = errors.New("legacy: not a fernet token")
)

var tokenEncoding = base64.URLEncoding

// parse checks a token's shape without any key and returns its bytes.
// It accepts exactly the canonical padded URL-safe base64 that Fernet
// implementations write: no whitespace, no other alphabet, no trailing data.
func parse(token string) ([]byte, error) {
	if !strings.HasPrefix(token, tokenPrefix) {
		return nil, fmt.Errorf("%w: does not start with %q", ErrMalformed, tokenPrefix)
	}
	b, err := tokenEncoding.Strict().DecodeString(token)
	// Strict still skips CR and LF; re-encoding catches those and anything
	// else that is not the canonical spelling.
	if err != nil || tokenEncoding.EncodeToString(b) != token {
		return nil, fmt.Errorf("%w: not padded url-safe base64", ErrMalformed)
	}
	switch {
	case b[0] != version:
		return nil, fmt.Errorf("%w: version byte is not 0x80", ErrMalformed)
	case len(b) < minTokenLen:
		return nil, fmt.Errorf("%w: too short", ErrMalformed)
	case (len(b)-overhead)%aes.BlockSize != 0:
		return nil, fmt.Errorf("%w: ciphertext is not a whole number of blocks", ErrMalformed)
	}
	return b, nil
}

// IsToken reports whether body has the shape of a Fernet token: it starts
// with "gAAAA", is canonical padded URL-safe base64, has version byte 0x80
// and a length that fits a whole number of AES blocks. It uses no key and no
// crypto. For any string s, IsToken(s) is true exactly when Open(s) does not
// fail with ErrMalformed.
func IsToken(body string) bool {
	_, err := parse(body)
	return err == nil
}

// KDFInput says which form of the master key is fed to PBKDF2: the
// `legacy.<env>.kdf_input` setting.
type KDFInput int

const (
	// KDFText uses the master key text, as written in the key file or
	// environment variable, as its UTF-8 bytes. It is the default.
	KDFText KDFInput = iota
	// KDFBytes uses the 32 bytes the master key text decodes to.
	KDFBytes
)

// DefaultKDFInput is the kdf_input used when the setting is absent.
const DefaultKDFInput = KDFText

// String returns the setting's spelling: "text" or "bytes".
func (k KDFInput) String() string {
	switch k {
	case KDFText:
		return "text"
	case KDFBytes:
		return "bytes"
	}
	return fmt.Sprintf("KDFInput(%d)", int(k))
}

// ParseKDFInput parses a kdf_input setting: "text" or "bytes".
func ParseKDFInput(s string) (KDFInput, error) {
	switch s {
	case "text":
		return KDFText, nil
	case "bytes":
		return KDFBytes, nil
	}
	return 0, fmt.Errorf("legacy: kdf_input must be %q or %q, not %q", "text", "bytes", s)
}

// saltBase64Prefix marks a salt setting written as base64.
const saltBase64Prefix = "base64:"

// DefaultSalt is the salt used when `legacy.<env>.salt` is absent: the
// environment name as UTF-8 bytes.
func DefaultSalt(env string) []byte {
	return []byte(env)
}

// ParseSalt parses a `legacy.<env>.salt` setting. Plain text is used as its
// UTF-8 bytes. Text starting with "base64:" is decoded from standard or
// URL-safe base64, padded or not, for salts that are not text. An empty salt
// is refused: an absent setting means [DefaultSalt], not an empty one.
func ParseSalt(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, saltBase64Prefix)
	if !ok {
		return append([]byte{}, s...), nil // "" is an empty salt
	}
	if !strings.ContainsAny(rest, "\r\n") {
		for _, enc := range []*base64.Encoding{
			base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
		} {
			if b, err := enc.Strict().DecodeString(rest); err == nil {
				return b, nil
			}
		}
	}
	return nil, fmt.Errorf("legacy: salt after %q is not base64", saltBase64Prefix)
}

// An Opener opens tokens under one derived key. It is safe for concurrent
// use.
type Opener struct {
	key fernet.Key
}

// NewOpener derives the Fernet key from input and salt with PBKDF2-HMAC-SHA256
// and [Iterations] iterations, which takes tens of milliseconds. input is the
// master key in the form the environment's kdf_input names (see [KDFInput]);
// choosing it is the caller's job. Neither input nor salt may be empty.
func NewOpener(input, salt []byte) (*Opener, error) {
	if len(input) == 0 {
		return nil, errors.New("legacy: empty master key")
	}
	dk, err := pbkdf2.Key(sha256.New, string(input), salt, Iterations, len(fernet.Key{}))
	if err != nil {
		// Only FIPS 140-only mode fails here (it wants salts of 16 bytes or more).
		return nil, fmt.Errorf("legacy: deriving key: %w", err)
	}
	o := new(Opener)
	copy(o.key[:], dk)
	clear(dk)
	return o, nil
}

// Open checks and decrypts token and returns the message. It fails with
// ErrMalformed if token is not a Fernet token, and with ErrUnauthenticated if
// it does not open under this key. The token's timestamp is ignored.
func (o *Opener) Open(token string) ([]byte, error) {
	return open(token, &o.key)
}

// String keeps the key out of logs and error messages.
func (o *Opener) String() string { return "legacy.Opener" }

// GoString keeps the key out of %#v.
func (o *Opener) GoString() string { return "legacy.Opener" }

// OpenWithFernetKey opens token under a Fernet key given directly as 32 bytes
// of padded URL-safe base64, the form Fernet implementations print. It exists
// for the Fernet spec's test vectors; keysmith's own values go through
// [NewOpener].
func OpenWithFernetKey(token, key string) ([]byte, error) {
	b, err := base64.URLEncoding.Strict().DecodeString(key)
	if err != nil || len(b) != len(fernet.Key{}) || strings.ContainsAny(key, "\r\n") {
		return nil, errors.New("legacy: fernet key is not 32 bytes of url-safe base64")
	}
	var k fernet.Key
	copy(k[:], b)
	clear(b)
	return open(token, &k)
}

func open(token string, k *fernet.Key) ([]byte, error) {
	b, err := parse(token)
	if err != nil {
		return nil, err
	}
	// parse has made token canonical and long enough, which fernet-go needs:
	// it ignores base64 errors (so trailing junk would be skipped) and
	// panics on an authenticated token with no ciphertext block.
	// A ttl of 0 skips its timestamp checks.
	msg := fernet.VerifyAndDecrypt([]byte(token), 0, []*fernet.Key{k})
	if msg == nil {
		return nil, ErrUnauthenticated
	}
	// fernet-go accepts a padding byte of 0 or above 16 as long as the bytes
	// it covers match; PKCS #7 (and Python's cryptography) does not.
	if pad := len(b) - overhead - len(msg); pad < 1 || pad > aes.BlockSize {
		return nil, ErrUnauthenticated
	}
	return msg, nil
}
