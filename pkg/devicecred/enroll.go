package devicecred

import (
	"bytes"
	"crypto/dsa" //nolint:staticcheck // only to name the key type in errors
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
)

// MaxPublicKeyInput bounds the enrolment input ParsePublicKey accepts. A P-256
// CSR with a long subject is well under 4 KiB.
const MaxPublicKeyInput = 64 << 10

// ParsePublicKey parses a device's enrolment input: a PEM "PUBLIC KEY"
// block, a DER SubjectPublicKeyInfo, or a PKCS#10 certificate request (PEM
// "CERTIFICATE REQUEST" or DER) whose self-signature verifies. The key must be
// ECDSA P-256; any other well-formed key is rejected with an error wrapping
// ErrUnsupportedKey that names what was found.
//
// It returns the key and its canonical SPKI, as SPKI(pub) encodes it; the
// fingerprint is Fingerprint(spki). Only the public key is taken from a CSR:
// its subject, extensions and attributes are ignored.
func ParsePublicKey(data []byte) (*ecdsa.PublicKey, []byte, error) {
	if len(data) > MaxPublicKeyInput {
		return nil, nil, fmt.Errorf("public key input is %d bytes, want at most %d", len(data), MaxPublicKeyInput)
	}
	if trimmed := bytes.TrimSpace(data); bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) {
		return parsePublicPEM(trimmed)
	}
	if len(data) == 0 {
		return nil, nil, errors.New("public key input is empty")
	}
	// DER: a SubjectPublicKeyInfo and a CertificationRequest are both a
	// SEQUENCE whose first element is a SEQUENCE, so try one then the other.
	pub, err := x509.ParsePKIXPublicKey(data)
	if err == nil {
		return acceptKey(pub)
	}
	if isSPKI, errUnsupported := classifySPKI(data); errUnsupported != nil {
		return nil, nil, errUnsupported
	} else if isSPKI {
		return nil, nil, fmt.Errorf("parsing DER public key: %w", err)
	}
	csr, err := x509.ParseCertificateRequest(data)
	if err == nil {
		return acceptCSR(csr)
	}
	if isCSR, errUnsupported := classifyCSR(data); errUnsupported != nil {
		return nil, nil, errUnsupported
	} else if isCSR {
		return nil, nil, fmt.Errorf("parsing DER certificate request: %w", err)
	}
	return nil, nil, errors.New("input is not a PEM public key, a DER SubjectPublicKeyInfo or a PKCS#10 certificate request")
}

func parsePublicPEM(data []byte) (*ecdsa.PublicKey, []byte, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, nil, errors.New("malformed PEM block")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, nil, errors.New("unexpected data after the PEM block, want exactly one public key or certificate request")
	}
	switch block.Type {
	case pemPublicKey:
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			if _, errUnsupported := classifySPKI(block.Bytes); errUnsupported != nil {
				return nil, nil, errUnsupported
			}
			return nil, nil, fmt.Errorf("parsing PEM public key: %w", err)
		}
		return acceptKey(pub)
	case pemCSR, pemCSRLegacy:
		csr, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil {
			if _, errUnsupported := classifyCSR(block.Bytes); errUnsupported != nil {
				return nil, nil, errUnsupported
			}
			return nil, nil, fmt.Errorf("parsing certificate request: %w", err)
		}
		return acceptCSR(csr)
	case pemPrivateKey, pemECPrivateKey, "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY":
		return nil, nil, fmt.Errorf("input is a %q PEM block; enrol the public key instead (openssl pkey -pubout)", block.Type)
	case "CERTIFICATE":
		return nil, nil, errors.New(`input is a "CERTIFICATE" PEM block, want "PUBLIC KEY" or "CERTIFICATE REQUEST"`)
	default:
		return nil, nil, fmt.Errorf("PEM block is %q, want %q or %q", block.Type, pemPublicKey, pemCSR)
	}
}

func acceptCSR(csr *x509.CertificateRequest) (*ecdsa.PublicKey, []byte, error) {
	if csr.PublicKey == nil {
		if _, errUnsupported := classifySPKI(csr.RawSubjectPublicKeyInfo); errUnsupported != nil {
			return nil, nil, errUnsupported
		}
		return nil, nil, fmt.Errorf("%w: certificate request has an unknown public key algorithm", ErrUnsupportedKey)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, nil, fmt.Errorf("certificate request signature does not verify: %w", err)
	}
	return acceptKey(csr.PublicKey)
}

func acceptKey(pub any) (*ecdsa.PublicKey, []byte, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("%w: public key is %s, want ECDSA P-256", ErrUnsupportedKey, describeKey(pub))
	}
	spki, err := SPKI(k)
	if err != nil {
		return nil, nil, err
	}
	return k, spki, nil
}

// describeKey names a key type parsed by crypto/x509 for error messages.
func describeKey(k any) string {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + curveName(k)
	case *ecdsa.PrivateKey:
		return "ECDSA " + curveName(&k.PublicKey)
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *rsa.PrivateKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case ed25519.PublicKey, ed25519.PrivateKey:
		return "Ed25519"
	case *ecdh.PublicKey:
		return "ECDH " + ecdhName(k.Curve())
	case *ecdh.PrivateKey:
		return "ECDH " + ecdhName(k.Curve())
	case *dsa.PublicKey:
		return "DSA"
	default:
		return fmt.Sprintf("%T", k)
	}
}

func curveName(k *ecdsa.PublicKey) string {
	if k.Curve == nil {
		return "with no curve"
	}
	return k.Curve.Params().Name
}

func ecdhName(c ecdh.Curve) string {
	if c == ecdh.X25519() {
		return "X25519"
	}
	return fmt.Sprint(c)
}

// Algorithms and curves crypto/x509 parses. An SPKI with one of these that
// x509.ParsePKIXPublicKey rejects is malformed, not unsupported.
var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	x509Algs       = map[string]bool{
		"1.2.840.113549.1.1.1": true, // rsaEncryption
		"1.2.840.10040.4.1":    true, // id-dsa
		"1.2.840.10045.2.1":    true, // id-ecPublicKey
		"1.3.101.112":          true, // id-Ed25519
		"1.3.101.110":          true, // id-X25519
	}
	x509Curves = map[string]bool{
		"1.3.132.0.33":        true, // P-224
		"1.2.840.10045.3.1.7": true, // P-256
		"1.3.132.0.34":        true, // P-384
		"1.3.132.0.35":        true, // P-521
	}
	otherAlgs = map[string]string{
		"1.3.101.111":           "X448",
		"1.3.101.113":           "Ed448",
		"1.2.840.113549.1.1.10": "RSA-PSS",
	}
	otherCurves = map[string]string{
		"1.3.132.0.10":          "secp256k1",
		"1.3.36.3.3.2.8.1.1.7":  "brainpoolP256r1",
		"1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
		"1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
		"1.2.156.10197.1.301":   "SM2",
	}
)

// classifySPKI is called when x509.ParsePKIXPublicKey rejects der. isSPKI
// reports whether der is still shaped like a SubjectPublicKeyInfo. If it is,
// and its algorithm or curve is one crypto/x509 does not implement, err wraps
// ErrUnsupportedKey and names it.
func classifySPKI(der []byte) (isSPKI bool, err error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	rest, perr := asn1.Unmarshal(der, &spki)
	if perr != nil || len(rest) != 0 || len(spki.Algorithm.Algorithm) == 0 {
		return false, nil
	}
	alg := spki.Algorithm.Algorithm.String()
	if alg == oidECPublicKey.String() {
		var curve asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(spki.Algorithm.Parameters.FullBytes, &curve); err != nil {
			return true, fmt.Errorf("%w: public key is ECDSA without a named curve, want ECDSA P-256", ErrUnsupportedKey)
		}
		if x509Curves[curve.String()] {
			return true, nil
		}
		name, ok := otherCurves[curve.String()]
		if !ok {
			name = "on curve " + curve.String()
		}
		return true, fmt.Errorf("%w: public key is ECDSA %s, want ECDSA P-256", ErrUnsupportedKey, name)
	}
	if x509Algs[alg] {
		return true, nil
	}
	if name, ok := otherAlgs[alg]; ok {
		return true, fmt.Errorf("%w: public key is %s, want ECDSA P-256", ErrUnsupportedKey, name)
	}
	return true, fmt.Errorf("%w: public key algorithm is %s, want ECDSA P-256", ErrUnsupportedKey, alg)
}

// classifyCSR is called when x509.ParseCertificateRequest rejects der. isCSR
// reports whether der is still shaped like a PKCS#10 CertificationRequest;
// err is classifySPKI's verdict on the public key inside it.
func classifyCSR(der []byte) (isCSR bool, err error) {
	var csr struct {
		Info struct {
			Version    int
			Subject    asn1.RawValue
			PublicKey  asn1.RawValue
			Attributes asn1.RawValue `asn1:"tag:0"`
		}
		SignatureAlgorithm pkix.AlgorithmIdentifier
		Signature          asn1.BitString
	}
	rest, perr := asn1.Unmarshal(der, &csr)
	if perr != nil || len(rest) != 0 {
		return false, nil
	}
	_, err = classifySPKI(csr.Info.PublicKey.FullBytes)
	return true, err
}
