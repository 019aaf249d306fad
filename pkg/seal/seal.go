// Package seal is keysmith's one AEAD helper: AES-256-GCM with 96-bit random
// nonces and length-prefixed, domain-separated associated data. Every sealed
// thing in keysmith (config values, vault data keys, vault values) goes through
// it. The byte layout it produces is described in docs/format.md.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	// KeySize is the size of an AES-256 key.
	KeySize = 32
	// NonceSize is the size of the GCM nonce stored in front of each ciphertext.
	NonceSize = 12
	// Overhead is the number of bytes Seal adds to a plaintext: nonce and tag.
	Overhead = NonceSize + 16
)

// ErrUnauthenticated reports that a sealed message did not open: the key is
// wrong, the associated data differs, or the bytes were changed.
var ErrUnauthenticated = errors.New("message authentication failed")

// AEAD seals and opens messages under one key. It is safe for concurrent use.
type AEAD struct {
	gcm  cipher.AEAD
	rand io.Reader
}

// New returns an AEAD for a 32-byte key. Nonces come from crypto/rand.
func New(key []byte) (*AEAD, error) {
	return NewWithRand(key, rand.Reader)
}

// NewWithRand is New with the nonce source given, for known-answer tests.
// Production code uses New.
func NewWithRand(key []byte, r io.Reader) (*AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &AEAD{gcm: gcm, rand: r}, nil
}

// Seal appends nonce || ciphertext || tag to dst and returns the result.
func (a *AEAD) Seal(dst, plaintext, ad []byte) ([]byte, error) {
	var nonce [NonceSize]byte
	if _, err := io.ReadFull(a.rand, nonce[:]); err != nil {
		return nil, fmt.Errorf("seal: reading nonce: %w", err)
	}
	dst = append(dst, nonce[:]...)
	return a.gcm.Seal(dst, nonce[:], plaintext, ad), nil
}

// Open opens nonce || ciphertext || tag and appends the plaintext to dst. On
// failure it returns ErrUnauthenticated and no plaintext.
func (a *AEAD) Open(dst, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, ErrUnauthenticated
	}
	out, err := a.gcm.Open(dst, sealed[:NonceSize], sealed[NonceSize:], ad)
	if err != nil {
		return nil, ErrUnauthenticated
	}
	return out, nil
}

// AD builds associated data from a domain label and fields. Each part is
// written as a 4-byte big-endian length followed by its bytes, so no two
// different lists of fields produce the same associated data.
func AD(label string, fields ...[]byte) []byte {
	n := 4 + len(label)
	for _, f := range fields {
		n += 4 + len(f)
	}
	out := make([]byte, 0, n)
	out = binary.BigEndian.AppendUint32(out, uint32(len(label)))
	out = append(out, label...)
	for _, f := range fields {
		out = binary.BigEndian.AppendUint32(out, uint32(len(f)))
		out = append(out, f...)
	}
	return out
}
