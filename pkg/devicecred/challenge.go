package devicecred

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

const (
	// ChallengeSize is the length in bytes of a challenge nonce.
	ChallengeSize = 32
	// ChallengeLabel starts every challenge message. The label names the
	// format version; a change to the message layout gets a new label.
	ChallengeLabel = "keysmith/v1/device-challenge"

	// minSignatureSize is the shortest ASN.1 DER ECDSA signature:
	// 30 06 02 01 r 02 01 s.
	minSignatureSize = 8
	// maxSignatureSize is the longest ASN.1 DER ECDSA P-256 signature:
	// SEQUENCE (2) + two INTEGERs of at most 33 bytes (2+33 each).
	maxSignatureSize = 72
)

// ErrBadSignature means a challenge signature does not verify.
var ErrBadSignature = errors.New("challenge signature does not verify")

// signatureEncoding is base64url without padding (RFC 4648 §5), strict about
// trailing bits so every value has exactly one encoding.
var signatureEncoding = base64.RawURLEncoding.Strict()

// NewChallenge returns ChallengeSize bytes from crypto/rand.
func NewChallenge() ([]byte, error) {
	nonce := make([]byte, ChallengeSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("generating challenge: %w", err)
	}
	return nonce, nil
}

// ChallengeMessage returns the bytes a device signs to prove it holds the key
// for deviceID:
//
//	"keysmith/v1/device-challenge" 0x00
//	uint32 big-endian len(deviceID) || deviceID (UTF-8 bytes as given)
//	nonce
//
// The nonce is last and SignChallenge and VerifyChallenge require it to be
// exactly ChallengeSize bytes, so the encoding is unambiguous.
func ChallengeMessage(deviceID string, nonce []byte) []byte {
	msg := make([]byte, 0, len(ChallengeLabel)+1+4+len(deviceID)+len(nonce))
	msg = append(msg, ChallengeLabel...)
	msg = append(msg, 0)
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(deviceID)))
	msg = append(msg, deviceID...)
	msg = append(msg, nonce...)
	return msg
}

func checkChallengeInput(deviceID string, nonce []byte) error {
	if deviceID == "" {
		return errors.New("device ID is empty")
	}
	if uint64(len(deviceID)) > 1<<32-1 {
		return errors.New("device ID is too long")
	}
	if len(nonce) != ChallengeSize {
		return fmt.Errorf("challenge is %d bytes, want %d", len(nonce), ChallengeSize)
	}
	return nil
}

// SignChallenge signs ChallengeMessage(deviceID, nonce) with ECDSA over
// SHA-256 and returns the ASN.1 DER signature (SEQUENCE of INTEGER r, s).
func SignChallenge(priv *ecdsa.PrivateKey, deviceID string, nonce []byte) ([]byte, error) {
	if err := checkChallengeInput(deviceID, nonce); err != nil {
		return nil, err
	}
	return signMessage(priv, ChallengeMessage(deviceID, nonce))
}

// VerifyChallenge checks that sig is a valid ASN.1 DER ECDSA-SHA256
// signature by pub over ChallengeMessage(deviceID, nonce). A signature that
// does not verify yields an error wrapping ErrBadSignature.
func VerifyChallenge(pub *ecdsa.PublicKey, deviceID string, nonce, sig []byte) error {
	if err := checkChallengeInput(deviceID, nonce); err != nil {
		return err
	}
	return verifyMessage(pub, ChallengeMessage(deviceID, nonce), sig)
}

// BoundChallengeLabel starts the message of a challenge answered over a TLS
// connection keysmith terminates itself: the answer also signs the
// connection's channel binding, so it cannot be relayed to another
// connection (docs/device-format.md §8.1).
const BoundChallengeLabel = "keysmith/v1/device-challenge-tls"

// ChannelBindingSize is the length of the RFC 9266 tls-exporter value.
const ChannelBindingSize = 32

// ChannelBindingLabel is the RFC 9266 exporter label.
const ChannelBindingLabel = "EXPORTER-Channel-Binding"

// ChallengeMessageBound is ChallengeMessage with BoundChallengeLabel and the
// connection's ChannelBindingSize-byte tls-exporter value appended:
//
//	"keysmith/v1/device-challenge-tls" 0x00
//	uint32 big-endian len(deviceID) || deviceID
//	nonce (32 bytes) || binding (32 bytes)
func ChallengeMessageBound(deviceID string, nonce, binding []byte) []byte {
	msg := make([]byte, 0, len(BoundChallengeLabel)+1+4+len(deviceID)+len(nonce)+len(binding))
	msg = append(msg, BoundChallengeLabel...)
	msg = append(msg, 0)
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(deviceID)))
	msg = append(msg, deviceID...)
	msg = append(msg, nonce...)
	msg = append(msg, binding...)
	return msg
}

// SignChallengeBound signs ChallengeMessageBound(deviceID, nonce, binding).
func SignChallengeBound(priv *ecdsa.PrivateKey, deviceID string, nonce, binding []byte) ([]byte, error) {
	if err := checkBoundInput(deviceID, nonce, binding); err != nil {
		return nil, err
	}
	return signMessage(priv, ChallengeMessageBound(deviceID, nonce, binding))
}

// VerifyChallengeBound checks a signature made by SignChallengeBound.
func VerifyChallengeBound(pub *ecdsa.PublicKey, deviceID string, nonce, binding, sig []byte) error {
	if err := checkBoundInput(deviceID, nonce, binding); err != nil {
		return err
	}
	return verifyMessage(pub, ChallengeMessageBound(deviceID, nonce, binding), sig)
}

func checkBoundInput(deviceID string, nonce, binding []byte) error {
	if err := checkChallengeInput(deviceID, nonce); err != nil {
		return err
	}
	if len(binding) != ChannelBindingSize {
		return fmt.Errorf("channel binding is %d bytes, want %d", len(binding), ChannelBindingSize)
	}
	return nil
}

func signMessage(priv *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	if priv == nil {
		return nil, errors.New("private key is nil")
	}
	if err := checkP256(&priv.PublicKey); err != nil {
		return nil, err
	}
	digest := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	if err != nil {
		return nil, fmt.Errorf("signing challenge: %w", err)
	}
	return sig, nil
}

func verifyMessage(pub *ecdsa.PublicKey, msg, sig []byte) error {
	if err := checkP256(pub); err != nil {
		return err
	}
	if len(sig) < minSignatureSize || len(sig) > maxSignatureSize {
		return fmt.Errorf("%w: signature is %d bytes, want %d..%d", ErrBadSignature, len(sig), minSignatureSize, maxSignatureSize)
	}
	digest := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return ErrBadSignature
	}
	return nil
}

// ChallengeSeparator separates the device ID from the nonce in a challenge
// on the command line: "dev_5d0c3a9e1b7f2468.<64 hex digits>". It occurs in
// neither part (ValidChallengeID, hex) and needs no quoting in a shell.
const ChallengeSeparator = "."

// maxChallengeIDLen bounds the device ID part of an encoded challenge.
const maxChallengeIDLen = 64

// ValidChallengeID reports whether id can travel in an encoded challenge:
// 1 to 64 of A-Z a-z 0-9 _ -, not starting with '-' (so the challenge is
// never mistaken for a flag). keysmith's device IDs ("dev_" and 16 hex
// digits) always can.
func ValidChallengeID(id string) bool {
	if id == "" || len(id) > maxChallengeIDLen || id[0] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// EncodeChallenge returns the challenge as it travels on the command line:
// deviceID, ChallengeSeparator, and the nonce as lowercase hex (64
// characters for ChallengeSize bytes). It starts with the device ID, so it
// never starts with '-' and is always safe as a positional argument; "device
// sign" reads the device ID from it.
func EncodeChallenge(deviceID string, nonce []byte) (string, error) {
	if !ValidChallengeID(deviceID) {
		return "", fmt.Errorf("device ID %q cannot travel in a challenge (want 1 to %d of A-Z a-z 0-9 _ -, not starting with -)", deviceID, maxChallengeIDLen)
	}
	if len(nonce) != ChallengeSize {
		return "", fmt.Errorf("challenge is %d bytes, want %d", len(nonce), ChallengeSize)
	}
	return deviceID + ChallengeSeparator + hex.EncodeToString(nonce), nil
}

// DecodeChallenge parses the output of EncodeChallenge, ignoring surrounding
// whitespace, and checks that the nonce holds exactly ChallengeSize bytes. A
// bare nonce (64 lowercase hex digits, no device ID) is accepted too; its
// deviceID is "".
func DecodeChallenge(s string) (deviceID string, nonce []byte, err error) {
	s = strings.TrimSpace(s)
	h := s
	if id, rest, ok := strings.Cut(s, ChallengeSeparator); ok {
		if !ValidChallengeID(id) {
			return "", nil, fmt.Errorf("challenge does not start with a device ID (want DEVICE_ID%sHEX_NONCE)", ChallengeSeparator)
		}
		deviceID, h = id, rest
	}
	if strings.ToLower(h) != h {
		return "", nil, errors.New("challenge nonce is not lowercase hex")
	}
	nonce, err = hex.DecodeString(h)
	if err != nil {
		return "", nil, errors.New("challenge nonce is not lowercase hex")
	}
	if len(nonce) != ChallengeSize {
		return "", nil, fmt.Errorf("challenge nonce is %d bytes, want %d", len(nonce), ChallengeSize)
	}
	return deviceID, nonce, nil
}

// EncodeSignature returns sig as base64url without padding.
func EncodeSignature(sig []byte) string {
	return signatureEncoding.EncodeToString(sig)
}

// DecodeSignature parses the output of EncodeSignature, ignoring surrounding
// whitespace. It checks only the length; VerifyChallenge checks the rest.
func DecodeSignature(s string) ([]byte, error) {
	sig, err := signatureEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("signature is not unpadded base64url: %w", err)
	}
	if len(sig) < minSignatureSize || len(sig) > maxSignatureSize {
		return nil, fmt.Errorf("signature is %d bytes, want %d..%d", len(sig), minSignatureSize, maxSignatureSize)
	}
	return sig, nil
}
