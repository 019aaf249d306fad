package devicecred

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// PEM block types.
const (
	pemPrivateKey   = "PRIVATE KEY"    // PKCS#8, RFC 5208 / RFC 5958
	pemECPrivateKey = "EC PRIVATE KEY" // SEC1, RFC 5915
	pemPublicKey    = "PUBLIC KEY"     // SubjectPublicKeyInfo, RFC 5280
	pemCSR          = "CERTIFICATE REQUEST"
	pemCSRLegacy    = "NEW CERTIFICATE REQUEST"
)

// ErrUnsupportedKey is returned (wrapped) for a well-formed key that is not
// ECDSA on P-256. The message names what was found.
var ErrUnsupportedKey = errors.New("unsupported key")

// Generate returns a fresh ECDSA P-256 device key from crypto/rand.
func Generate() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating device key: %w", err)
	}
	return k, nil
}

// SPKI returns the DER SubjectPublicKeyInfo of pub (x509.MarshalPKIXPublicKey:
// id-ecPublicKey, namedCurve prime256v1, uncompressed point). It is 91 bytes
// long. pub must be on P-256.
func SPKI(pub *ecdsa.PublicKey) ([]byte, error) {
	if err := checkP256(pub); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return der, nil
}

// Fingerprint returns the lowercase hex SHA-256 of spki (64 characters).
func Fingerprint(spki []byte) string {
	sum := sha256.Sum256(spki)
	return hex.EncodeToString(sum[:])
}

// PrivatePEM returns priv as a PKCS#8 "PRIVATE KEY" PEM block.
func PrivatePEM(priv *ecdsa.PrivateKey) ([]byte, error) {
	if priv == nil {
		return nil, errors.New("private key is nil")
	}
	if err := checkP256(&priv.PublicKey); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}

// ParsePrivatePEM parses a single unencrypted PEM private key: PKCS#8
// "PRIVATE KEY" or SEC1 "EC PRIVATE KEY". Anything but ECDSA P-256 is
// rejected with ErrUnsupportedKey. Text after the block other than
// whitespace is an error.
func ParsePrivatePEM(data []byte) (*ecdsa.PrivateKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found, want a PEM private key")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("unexpected data after the PEM private key")
	}
	if len(block.Headers) != 0 {
		return nil, fmt.Errorf("PEM %q block has headers; encrypted PEM keys are not supported", block.Type)
	}
	var key any
	var err error
	switch block.Type {
	case pemPrivateKey:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing PKCS#8 private key: %w", err)
		}
	case pemECPrivateKey:
		key, err = x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing SEC1 EC private key: %w", err)
		}
	default:
		return nil, fmt.Errorf("PEM block is %q, want %q or %q", block.Type, pemPrivateKey, pemECPrivateKey)
	}
	priv, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: private key is %s, want ECDSA P-256", ErrUnsupportedKey, describeKey(key))
	}
	if err := checkP256(&priv.PublicKey); err != nil {
		return nil, err
	}
	return priv, nil
}

// checkP256 returns a wrapped ErrUnsupportedKey unless pub is on P-256.
func checkP256(pub *ecdsa.PublicKey) error {
	if pub == nil || pub.Curve == nil {
		return errors.New("public key is nil")
	}
	if pub.Curve != elliptic.P256() {
		return fmt.Errorf("%w: public key is %s, want ECDSA P-256", ErrUnsupportedKey, describeKey(pub))
	}
	return nil
}
