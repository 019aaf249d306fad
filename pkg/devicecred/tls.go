package devicecred

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// ClientCertificate wraps a device key in a self-signed TLS client
// certificate for mutual TLS with keysmith serve. The server identifies the
// device by the SHA-256 of the certificate's SubjectPublicKeyInfo and ignores
// everything else in it (subject, dates, issuer), so the certificate is
// made fresh for each connection and never stored.
func ClientCertificate(priv *ecdsa.PrivateKey, commonName string) (tls.Certificate, error) {
	if priv == nil {
		return tls.Certificate{}, errors.New("private key is nil")
	}
	if err := checkP256(&priv.PublicKey); err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("drawing serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("making client certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, nil
}

// PeerSPKIFingerprint returns the SHA-256 of the SubjectPublicKeyInfo of the
// leaf client certificate of a TLS connection, exactly as an mTLS front end
// extracts it, or false when the peer sent none.
func PeerSPKIFingerprint(cs *tls.ConnectionState) ([32]byte, bool) {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return [32]byte{}, false
	}
	return sha256.Sum256(cs.PeerCertificates[0].RawSubjectPublicKeyInfo), true
}

// ChannelBinding returns the RFC 9266 tls-exporter channel binding of a
// TLS 1.3 connection. Both ends compute the same 32 bytes; a relay that
// terminates TLS in between computes different ones.
func ChannelBinding(cs *tls.ConnectionState) ([]byte, error) {
	if cs == nil {
		return nil, errors.New("no TLS connection")
	}
	if cs.Version != tls.VersionTLS13 {
		return nil, errors.New("tls-exporter channel binding needs TLS 1.3")
	}
	return cs.ExportKeyingMaterial(ChannelBindingLabel, nil, ChannelBindingSize)
}
