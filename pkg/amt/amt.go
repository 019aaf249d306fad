// Package amt handles Intel AMT provisioning certificates for remote
// activation in admin control mode, as docs/amt.md describes: importing a
// PFX (PKCS#12) file or a PEM chain and key, ordering the chain leaf to root,
// the root fingerprint that AMT compares with its trusted root hashes, and
// the activation signature over the firmware nonce and a fresh nonce.
//
// The package holds no storage and no policy: the vault seals the private
// key (MarshalKey) under a tenant data key, and the server decides who may
// ask for a signature.
package amt

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// ProvisioningOID is the extended key usage Intel AMT requires in the leaf of
// a provisioning certificate ("Intel(R) AMT Provisioning").
var ProvisioningOID = asn1.ObjectIdentifier{2, 16, 840, 1, 113741, 1, 2, 3}

// NonceSize is the length of both the firmware nonce AMT reports and the
// nonce the signer adds.
const NonceSize = 20

// MinRSABits is the smallest RSA modulus accepted for a provisioning key.
const MinRSABits = 2048

// Errors callers test with errors.Is.
var (
	ErrPassword   = errors.New("wrong PFX password or damaged PFX file")
	ErrNotRSA     = errors.New("the provisioning key is not an RSA key")
	ErrKeyMatch   = errors.New("the private key does not belong to the leaf certificate")
	ErrChain      = errors.New("the certificate chain is incomplete")
	ErrNoAMTUsage = errors.New("the leaf certificate lacks the Intel AMT provisioning usage (OID 2.16.840.1.113741.1.2.3)")
	ErrNonce      = fmt.Errorf("the firmware nonce must be %d bytes", NonceSize)
)

// Cert is a provisioning certificate: its chain, leaf first and a
// self-signed root last, and the leaf's RSA private key.
type Cert struct {
	Chain []*x509.Certificate
	Key   *rsa.PrivateKey
}

// ParsePFX opens a PKCS#12 file with its password: the legacy encryptions
// (RC2, 3DES with SHA-1 MACs) and the PBES2/AES-256 one OpenSSL 3 writes by
// default. The file must hold the key, its leaf and the certificates up to a
// self-signed root.
func ParsePFX(data []byte, password string) (*Cert, error) {
	key, leaf, cas, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, ErrPassword
		}
		return nil, fmt.Errorf("reading PFX: %w", err)
	}
	return New(key, leaf, cas)
}

// ParsePEM reads a PEM chain (any order; the leaf is the certificate the key
// belongs to) and a PEM private key (PKCS#1 or PKCS#8).
func ParsePEM(chainPEM, keyPEM []byte) (*Cert, error) {
	var certs []*x509.Certificate
	rest := chainPEM
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("reading certificate chain: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no CERTIFICATE block in the certificate chain")
	}
	key, err := parsePEMKey(keyPEM)
	if err != nil {
		return nil, err
	}
	var leaf *x509.Certificate
	var others []*x509.Certificate
	for _, c := range certs {
		if leaf == nil && publicKeyMatches(c, key) {
			leaf = c
			continue
		}
		others = append(others, c)
	}
	if leaf == nil {
		return nil, ErrKeyMatch
	}
	return New(key, leaf, others)
}

func parsePEMKey(keyPEM []byte) (crypto.PrivateKey, error) {
	for rest := keyPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("no private key block in the key file")
		}
		switch b.Type {
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(b.Bytes)
		case "PRIVATE KEY":
			return x509.ParsePKCS8PrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the key file is encrypted: decrypt it first (openssl pkey -in KEY -out PLAIN) or import the PFX")
		}
	}
}

func publicKeyMatches(c *x509.Certificate, key crypto.PrivateKey) bool {
	s, ok := key.(crypto.Signer)
	if !ok {
		return false
	}
	pub, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(s.Public())
}

// New checks and orders a provisioning certificate: key must be RSA of at
// least MinRSABits and belong to leaf, leaf must carry ProvisioningOID, and
// others must complete the chain from leaf to a self-signed root, each link
// verified by signature. A certificate that is not on that path is refused.
func New(key crypto.PrivateKey, leaf *x509.Certificate, others []*x509.Certificate) (*Cert, error) {
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, ErrNotRSA
	}
	if leaf == nil || !publicKeyMatches(leaf, rk) {
		return nil, ErrKeyMatch
	}
	if rk.N.BitLen() < MinRSABits {
		return nil, fmt.Errorf("the provisioning key has %d bits; AMT needs at least %d", rk.N.BitLen(), MinRSABits)
	}
	if !hasAMTUsage(leaf) {
		return nil, ErrNoAMTUsage
	}
	chain := []*x509.Certificate{leaf}
	pool := append([]*x509.Certificate(nil), others...)
	for cur := leaf; !isSelfSigned(cur); {
		next := -1
		for i, c := range pool {
			if bytes.Equal(c.RawSubject, cur.RawIssuer) && cur.CheckSignatureFrom(c) == nil {
				next = i
				break
			}
		}
		if next < 0 {
			return nil, fmt.Errorf("%w: no certificate in the file issued %q (the chain must reach a self-signed root)", ErrChain, cur.Subject.String())
		}
		cur = pool[next]
		pool = append(pool[:next], pool[next+1:]...)
		chain = append(chain, cur)
		if len(chain) > 10 {
			return nil, fmt.Errorf("%w: more than 10 certificates deep", ErrChain)
		}
	}
	for _, c := range pool {
		if !containsCert(chain, c) {
			return nil, fmt.Errorf("%w: certificate %q is not on the path from the leaf to its root", ErrChain, c.Subject.String())
		}
	}
	return &Cert{Chain: chain, Key: rk}, nil
}

func containsCert(chain []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range chain {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}

func hasAMTUsage(c *x509.Certificate) bool {
	for _, u := range c.UnknownExtKeyUsage {
		if u.Equal(ProvisioningOID) {
			return true
		}
	}
	return false
}

// Leaf is the certificate whose key signs.
func (c *Cert) Leaf() *x509.Certificate { return c.Chain[0] }

// Root is the self-signed root at the end of the chain.
func (c *Cert) Root() *x509.Certificate { return c.Chain[len(c.Chain)-1] }

// RootFingerprint is the SHA-256 of the root certificate's DER encoding, the
// hash AMT compares with its list of trusted root certificate hashes.
func (c *Cert) RootFingerprint() [32]byte { return sha256.Sum256(c.Root().Raw) }

// ChainDER returns the chain's DER encodings, leaf first.
func (c *Cert) ChainDER() [][]byte {
	out := make([][]byte, len(c.Chain))
	for i, x := range c.Chain {
		out[i] = x.Raw
	}
	return out
}

// ExpiresWithin reports whether any certificate of the chain stops being
// valid within d of now (or already has).
func (c *Cert) ExpiresWithin(now time.Time, d time.Duration) bool {
	return !c.NotAfter().After(now.Add(d))
}

// NotAfter is the earliest expiry in the chain.
func (c *Cert) NotAfter() time.Time {
	t := c.Chain[0].NotAfter
	for _, x := range c.Chain[1:] {
		if x.NotAfter.Before(t) {
			t = x.NotAfter
		}
	}
	return t
}

// MarshalKey returns the private key as PKCS#8 DER, the plaintext a caller
// seals before storing it.
func (c *Cert) MarshalKey() ([]byte, error) { return x509.MarshalPKCS8PrivateKey(c.Key) }

// Load rebuilds a Cert from what MarshalKey and ChainDER returned, checking it
// exactly as New does.
func Load(chainDER [][]byte, keyDER []byte) (*Cert, error) {
	if len(chainDER) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrChain)
	}
	certs := make([]*x509.Certificate, len(chainDER))
	for i, d := range chainDER {
		x, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, fmt.Errorf("reading stored certificate %d: %w", i, err)
		}
		certs[i] = x
	}
	key, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return nil, fmt.Errorf("reading stored provisioning key: %w", err)
	}
	return New(key, certs[0], certs[1:])
}

// Activation is what a device needs to finish admin-control-mode activation.
type Activation struct {
	// Nonce is the signer's fresh NonceSize-byte nonce.
	Nonce []byte
	// Signature is RSA PKCS#1 v1.5 with SHA-256 over FWNonce ‖ Nonce.
	Signature []byte
	// Chain is the certificate chain in DER, leaf first, root last.
	Chain [][]byte
	// RootFingerprint is the SHA-256 of the root's DER.
	RootFingerprint [32]byte
}

// SignActivation draws a fresh nonce from rand and signs fwNonce ‖ nonce with
// the provisioning key, as Intel AMT's admin-control-mode setup verifies.
func (c *Cert) SignActivation(rand io.Reader, fwNonce []byte) (*Activation, error) {
	if len(fwNonce) != NonceSize {
		return nil, ErrNonce
	}
	nonce := make([]byte, NonceSize)
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, fmt.Errorf("drawing nonce: %w", err)
	}
	return c.SignActivationNonce(fwNonce, nonce)
}

// SignActivationNonce is SignActivation with the signer's nonce drawn by
// the caller (NonceSize bytes, fresh for every signature): for a caller
// that records the nonce while the signature is computed.
func (c *Cert) SignActivationNonce(fwNonce, nonce []byte) (*Activation, error) {
	if len(fwNonce) != NonceSize || len(nonce) != NonceSize {
		return nil, ErrNonce
	}
	digest := sha256.Sum256(append(append([]byte(nil), fwNonce...), nonce...))
	sig, err := rsa.SignPKCS1v15(nil, c.Key, crypto.SHA256, digest[:])
	if err != nil {
		return nil, fmt.Errorf("signing activation: %w", err)
	}
	return &Activation{Nonce: slices.Clone(nonce), Signature: sig, Chain: c.ChainDER(), RootFingerprint: c.RootFingerprint()}, nil
}

// VerifyActivation checks an activation signature the way AMT does: with
// the leaf's public key over exactly fwNonce ‖ nonce.
func VerifyActivation(leaf *x509.Certificate, fwNonce, nonce, sig []byte) error {
	pub, ok := leaf.PublicKey.(*rsa.PublicKey)
	if !ok {
		return ErrNotRSA
	}
	digest := sha256.Sum256(append(append([]byte(nil), fwNonce...), nonce...))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
}

// Describe is a one-line summary for listings: subject of the leaf.
func Describe(c *x509.Certificate) string {
	s := c.Subject.CommonName
	if s == "" {
		s = c.Subject.String()
	}
	return strings.TrimSpace(s)
}
