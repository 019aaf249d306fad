// Package amttest makes Intel AMT provisioning certificate chains for
// tests, the way a CA issues one: a self-signed RSA root, an intermediate,
// and a leaf whose extended key usage carries the AMT provisioning OID
// (docs/amt.md). It is for tests only.
package amttest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/keysmith/keysmith/pkg/amt"
)

// Chain is a test provisioning chain and its keys.
type Chain struct {
	Root, Inter, Leaf          *x509.Certificate
	RootKey, InterKey, LeafKey *rsa.PrivateKey
}

var (
	once   sync.Once
	shared *Chain
	err    error
)

// Shared returns one chain per test binary (RSA key generation is slow).
func Shared(t testing.TB) *Chain {
	t.Helper()
	once.Do(func() { shared, err = New(time.Now().AddDate(1, 0, 0)) })
	if err != nil {
		t.Fatal(err)
	}
	return shared
}

// New makes a chain whose leaf expires at leafNotAfter.
func New(leafNotAfter time.Time) (*Chain, error) {
	c := &Chain{}
	var err error
	for _, k := range []**rsa.PrivateKey{&c.RootKey, &c.InterKey, &c.LeafKey} {
		if *k, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, err
		}
	}
	now := time.Now()
	rootT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test AMT Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	if c.Root, err = issue(rootT, rootT, &c.RootKey.PublicKey, c.RootKey); err != nil {
		return nil, err
	}
	interT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test AMT Intermediate"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	if c.Inter, err = issue(interT, c.Root, &c.InterKey.PublicKey, c.RootKey); err != nil {
		return nil, err
	}
	leafT := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "amt.example.com", Organization: []string{"Example"}},
		NotBefore: now.Add(-time.Hour), NotAfter: leafNotAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, UnknownExtKeyUsage: []asn1.ObjectIdentifier{amt.ProvisioningOID}}
	if c.Leaf, err = issue(leafT, c.Inter, &c.LeafKey.PublicKey, c.InterKey); err != nil {
		return nil, err
	}
	return c, nil
}

func issue(tmpl, parent *x509.Certificate, pub, signer any) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Cert is the chain as pkg/amt holds it.
func (c *Chain) Cert(t testing.TB) *amt.Cert {
	t.Helper()
	x, err := amt.New(c.LeafKey, c.Leaf, []*x509.Certificate{c.Inter, c.Root})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// ChainPEM is the three certificates in PEM, root first (any order
// imports).
func (c *Chain) ChainPEM() []byte {
	var out []byte
	for _, x := range []*x509.Certificate{c.Root, c.Inter, c.Leaf} {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: x.Raw})...)
	}
	return out
}

// KeyPEM is the leaf key in PKCS#8 PEM.
func (c *Chain) KeyPEM() []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(c.LeafKey)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// RootPEM is the root alone.
func (c *Chain) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Root.Raw})
}
