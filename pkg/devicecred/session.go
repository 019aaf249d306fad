package devicecred

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SessionPrefix starts every device session token.
const SessionPrefix = "ksd1_"

// SessionLabel is the HMAC domain label of device sessions.
const SessionLabel = "keysmith/v1/device-session"

// SessionKeySize is the length of the key that MACs sessions.
const SessionKeySize = 32

// ErrBadSession means a device session token is malformed, forged or
// expired. The message never contains the token.
var ErrBadSession = errors.New("device session is invalid or expired")

var sessionEncoding = base64.RawURLEncoding.Strict()

// sessionBody is version(1) || expires unix seconds (u64be) || tenant ID
// (u64be) || SHA-256 of the device key's SPKI (32).
const sessionBody = 1 + 8 + 8 + 32

// Session is what a device session token asserts: the holder proved
// possession of the key with this SPKI fingerprint, in this tenant, until
// Expires. Whether the key is still active is checked on every call.
type Session struct {
	TenantID    int64
	Fingerprint [32]byte
	Expires     time.Time
}

// IssueSession returns the token for s:
//
//	"ksd1_" base64url( 0x01 || u64be(expires) || u64be(tenant) || fp(32) || HMAC-SHA256(key, label || 0x00 || body) )
func IssueSession(key []byte, s Session) (string, error) {
	if len(key) != SessionKeySize {
		return "", fmt.Errorf("session key is %d bytes, want %d", len(key), SessionKeySize)
	}
	body := make([]byte, 0, sessionBody+sha256.Size)
	body = append(body, 1)
	body = binary.BigEndian.AppendUint64(body, uint64(s.Expires.Unix()))
	body = binary.BigEndian.AppendUint64(body, uint64(s.TenantID))
	body = append(body, s.Fingerprint[:]...)
	body = append(body, sessionMAC(key, body)...)
	return SessionPrefix + sessionEncoding.EncodeToString(body), nil
}

// VerifySession checks tok's MAC (in constant time) and expiry at now.
func VerifySession(key []byte, tok string, now time.Time) (Session, error) {
	rest, ok := strings.CutPrefix(tok, SessionPrefix)
	if !ok || len(key) != SessionKeySize {
		return Session{}, ErrBadSession
	}
	raw, err := sessionEncoding.DecodeString(rest)
	if err != nil || len(raw) != sessionBody+sha256.Size || raw[0] != 1 {
		return Session{}, ErrBadSession
	}
	body, mac := raw[:sessionBody], raw[sessionBody:]
	if !hmac.Equal(mac, sessionMAC(key, body)) {
		return Session{}, ErrBadSession
	}
	s := Session{
		Expires:  time.Unix(int64(binary.BigEndian.Uint64(body[1:9])), 0),
		TenantID: int64(binary.BigEndian.Uint64(body[9:17])),
	}
	copy(s.Fingerprint[:], body[17:])
	if !now.Before(s.Expires) {
		return Session{}, ErrBadSession
	}
	return s, nil
}

func sessionMAC(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(SessionLabel))
	m.Write([]byte{0})
	m.Write(body)
	return m.Sum(nil)
}
