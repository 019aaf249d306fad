package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// SPKIFingerprint is the lowercase hex SHA-256 of a certificate's
// SubjectPublicKeyInfo: what clients pin with --server-fingerprint.
func SPKIFingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// NormalizeFingerprint accepts a fingerprint as hex, with or without
// colons and a "sha256:" prefix, and returns it as SPKIFingerprint does.
func NormalizeFingerprint(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "sha256:")
	s = strings.ReplaceAll(s, ":", "")
	if b, err := hex.DecodeString(s); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("server fingerprint %q: want the SHA-256 of the server's SPKI, 64 hex digits", s)
	}
	return s, nil
}

// CertSource serves the server's certificate and reloads it on demand
// (SIGHUP): a failed reload keeps the old one.
type CertSource struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// LoadCertFiles reads a PEM certificate chain and its key.
func LoadCertFiles(certFile, keyFile string) (*CertSource, error) {
	c := &CertSource{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again.
func (c *CertSource) Reload() error {
	if c.certFile == "" {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("loading --tls-cert %q / --tls-key %q: %w", c.certFile, c.keyFile, err)
	}
	c.cur.Store(&cert)
	return nil
}

// Certificate returns the current certificate.
func (c *CertSource) Certificate() *tls.Certificate { return c.cur.Load() }

// Fingerprint returns the SPKI fingerprint of the current certificate.
func (c *CertSource) Fingerprint() string {
	cert := c.cur.Load()
	if cert.Leaf == nil {
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return ""
		}
		return SPKIFingerprint(leaf)
	}
	return SPKIFingerprint(cert.Leaf)
}

// TLSConfig is the server's TLS configuration: TLS 1.3 only, HTTP/2, and
// an optional client certificate of any issuer (devices identify by the
// SPKI of theirs; keysmith checks it, not the TLS stack).
func (c *CertSource) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{"h2", "http/1.1"},
		ClientAuth: tls.RequestClientCert,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.cur.Load(), nil
		},
	}
}

// SelfSigned returns the server's own certificate in dir (server.crt,
// server.key, both 0600), creating a P-256 key and a self-signed
// certificate for names on first use. The key is kept for good, so a pinned
// fingerprint stays valid; the certificate is issued again (same key) when
// it expires within 30 days or does not cover names. created reports a new key.
func SelfSigned(dir string, names []string, now time.Time) (src *CertSource, created bool, err error) {
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	var key *ecdsa.PrivateKey
	switch kb, err := os.ReadFile(keyFile); {
	case errors.Is(err, fs.ErrNotExist):
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, false, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, false, err
		}
		if err := writeExclusive(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return nil, false, err
		}
		created = true
	case err != nil:
		return nil, false, err
	default:
		if st, err := os.Stat(keyFile); err == nil && st.Mode().Perm()&0o077 != 0 {
			return nil, false, fmt.Errorf("%q is readable by group or others (mode %04o): chmod 600 it", keyFile, st.Mode().Perm())
		}
		blk, _ := pem.Decode(kb)
		if blk == nil {
			return nil, false, fmt.Errorf("%q: no PEM key", keyFile)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, false, fmt.Errorf("%q: %w", keyFile, err)
		}
		var ok bool
		if key, ok = k.(*ecdsa.PrivateKey); !ok {
			return nil, false, fmt.Errorf("%q: not an ECDSA key", keyFile)
		}
	}
	if !created && certCovers(certFile, names, now) {
		c, err := LoadCertFiles(certFile, keyFile)
		return c, false, err
	}
	der, err := selfSignedDER(key, names, now)
	if err != nil {
		return nil, false, err
	}
	tmp := certFile + ".tmp"
	os.Remove(tmp)
	if err := writeExclusive(tmp, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})); err != nil {
		return nil, false, err
	}
	if err := os.Rename(tmp, certFile); err != nil {
		return nil, false, err
	}
	c, err := LoadCertFiles(certFile, keyFile)
	return c, created, err
}

func writeExclusive(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

func certCovers(certFile string, names []string, now time.Time) bool {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return false
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return false
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || now.Add(30*24*time.Hour).After(cert.NotAfter) {
		return false
	}
	for _, n := range names {
		if cert.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

func selfSignedDER(key *ecdsa.PrivateKey, names []string, now time.Time) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "keysmith serve"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(397 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if !slices.Contains(tmpl.DNSNames, n) {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
}

// ListenNames are the names a self-signed certificate for a TCP listen
// address covers: its host, and for a loopback or unspecified address also
// localhost, 127.0.0.1, ::1 and the machine's host name.
func ListenNames(addr string) []string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	var out []string
	ip := net.ParseIP(host)
	if host != "" && (ip == nil || !ip.IsUnspecified()) {
		out = append(out, host)
	}
	if host == "" || ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) || host == "localhost" {
		for _, n := range []string{"localhost", "127.0.0.1", "::1"} {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		if h, err := os.Hostname(); err == nil && h != "" && ip != nil && ip.IsUnspecified() && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}
