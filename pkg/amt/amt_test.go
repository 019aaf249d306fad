package amt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testChain is a provisioning chain made the way a CA issues one: a
// self-signed root, an intermediate, and a leaf whose extended key usage
// carries the AMT provisioning OID.
type testChain struct {
	root, inter, leaf          *x509.Certificate
	rootKey, interKey, leafKey *rsa.PrivateKey
}

var (
	chainOnce sync.Once
	chain     testChain
)

func rsaKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func issue(t testing.TB, tmpl, parent *x509.Certificate, pub any, signer any) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func getChain(t testing.TB) testChain {
	chainOnce.Do(func() {
		now := time.Now()
		chain.rootKey, chain.interKey, chain.leafKey = rsaKey(t), rsaKey(t), rsaKey(t)
		rootT := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test AMT Root"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
		chain.root = issue(t, rootT, rootT, &chain.rootKey.PublicKey, chain.rootKey)
		interT := &x509.Certificate{
			SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test AMT Intermediate"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
		chain.inter = issue(t, interT, chain.root, &chain.interKey.PublicKey, chain.rootKey)
		leafT := &x509.Certificate{
			SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "amt.example.com", Organization: []string{"Example"}},
			NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
			KeyUsage:           x509.KeyUsageDigitalSignature,
			ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			UnknownExtKeyUsage: []asn1.ObjectIdentifier{ProvisioningOID},
		}
		chain.leaf = issue(t, leafT, chain.inter, &chain.leafKey.PublicKey, chain.interKey)
	})
	if chain.leaf == nil {
		t.Fatal("making the test chain failed")
	}
	return chain
}

func TestNewOrdersChainLeafToRoot(t *testing.T) {
	c := getChain(t)
	// Given in the wrong order, the chain comes back leaf, intermediate, root.
	got, err := New(c.leafKey, c.leaf, []*x509.Certificate{c.root, c.inter})
	if err != nil {
		t.Fatal(err)
	}
	want := []*x509.Certificate{c.leaf, c.inter, c.root}
	if len(got.Chain) != 3 {
		t.Fatalf("chain has %d certificates, want 3", len(got.Chain))
	}
	for i := range want {
		if !got.Chain[i].Equal(want[i]) {
			t.Errorf("chain[%d] = %q, want %q", i, got.Chain[i].Subject, want[i].Subject)
		}
	}
	if fp := got.RootFingerprint(); fp != sha256.Sum256(c.root.Raw) {
		t.Errorf("root fingerprint %x is not SHA-256 of the root DER", fp)
	}
	if got.NotAfter() != c.leaf.NotAfter {
		t.Errorf("NotAfter = %v, want the leaf's %v (earliest)", got.NotAfter(), c.leaf.NotAfter)
	}
	if !got.ExpiresWithin(time.Now(), 400*24*time.Hour) || got.ExpiresWithin(time.Now(), 30*24*time.Hour) {
		t.Error("ExpiresWithin does not follow the leaf's expiry")
	}
}

func TestNewRefuses(t *testing.T) {
	c := getChain(t)
	other := rsaKey(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	noUsageT := &x509.Certificate{
		SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "plain TLS"},
		NotBefore: now, NotAfter: now.AddDate(1, 0, 0), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	noUsage := issue(t, noUsageT, c.inter, &c.leafKey.PublicKey, c.interKey)
	strayT := &x509.Certificate{SerialNumber: big.NewInt(10), Subject: pkix.Name{CommonName: "stray"},
		NotBefore: now, NotAfter: now.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true}
	stray := issue(t, strayT, strayT, &other.PublicKey, other)

	cases := []struct {
		name   string
		key    any
		leaf   *x509.Certificate
		others []*x509.Certificate
		want   error
	}{
		{"not RSA", ec, c.leaf, []*x509.Certificate{c.inter, c.root}, ErrNotRSA},
		{"key of another cert", other, c.leaf, []*x509.Certificate{c.inter, c.root}, ErrKeyMatch},
		{"no AMT usage", c.leafKey, noUsage, []*x509.Certificate{c.inter, c.root}, ErrNoAMTUsage},
		{"missing root", c.leafKey, c.leaf, []*x509.Certificate{c.inter}, ErrChain},
		{"missing intermediate", c.leafKey, c.leaf, []*x509.Certificate{c.root}, ErrChain},
		{"stray certificate", c.leafKey, c.leaf, []*x509.Certificate{c.inter, c.root, stray}, ErrChain},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.key, tc.leaf, tc.others)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignActivationVerifiesLikeAMT(t *testing.T) {
	c := getChain(t)
	cert, err := New(c.leafKey, c.leaf, []*x509.Certificate{c.inter, c.root})
	if err != nil {
		t.Fatal(err)
	}
	fw := bytes.Repeat([]byte{0xa5}, NonceSize)
	act, err := cert.SignActivation(rand.Reader, fw)
	if err != nil {
		t.Fatal(err)
	}
	if len(act.Nonce) != NonceSize {
		t.Fatalf("nonce has %d bytes", len(act.Nonce))
	}
	// AMT verifies with the leaf's public key over exactly fwNonce ‖ nonce.
	leaf, _ := x509.ParseCertificate(act.Chain[0])
	if err := VerifyActivation(leaf, fw, act.Nonce, act.Signature); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	// Independently of VerifyActivation: PKCS#1 v1.5 SHA-256 by hand.
	d := sha256.Sum256(append(append([]byte{}, fw...), act.Nonce...))
	if err := rsa.VerifyPKCS1v15(&c.leafKey.PublicKey, crypto.SHA256, d[:], act.Signature); err != nil {
		t.Fatalf("signature is not PKCS#1 v1.5 SHA-256 over fw_nonce||nonce: %v", err)
	}
	// Swapped order, another fw nonce, or a flipped bit do not verify.
	if VerifyActivation(leaf, act.Nonce, fw, act.Signature) == nil {
		t.Error("nonce || fw_nonce verified")
	}
	fw2 := bytes.Repeat([]byte{0x5a}, NonceSize)
	if VerifyActivation(leaf, fw2, act.Nonce, act.Signature) == nil {
		t.Error("another firmware nonce verified")
	}
	act2, _ := cert.SignActivation(rand.Reader, fw)
	if bytes.Equal(act2.Nonce, act.Nonce) {
		t.Error("two signatures share a nonce")
	}
	if len(act.Chain) != 3 || !bytes.Equal(act.Chain[2], c.root.Raw) {
		t.Error("chain is not leaf to root")
	}
	if act.RootFingerprint != sha256.Sum256(c.root.Raw) {
		t.Error("activation root fingerprint wrong")
	}
	for _, n := range []int{0, 19, 21, 32} {
		if _, err := cert.SignActivation(rand.Reader, make([]byte, n)); !errors.Is(err, ErrNonce) {
			t.Errorf("fw nonce of %d bytes: err = %v", n, err)
		}
	}
	// With the caller's nonce (SignActivationNonce): the signature is over
	// fw_nonce || that nonce, and a nonce that is not 20 bytes is refused.
	mine := bytes.Repeat([]byte{0x3c}, NonceSize)
	act3, err := cert.SignActivationNonce(fw, mine)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(act3.Nonce, mine) || VerifyActivation(leaf, fw, mine, act3.Signature) != nil {
		t.Error("SignActivationNonce: not a signature over fw_nonce || the given nonce")
	}
	for _, n := range []int{0, 19, 21} {
		if _, err := cert.SignActivationNonce(fw, make([]byte, n)); !errors.Is(err, ErrNonce) {
			t.Errorf("nonce of %d bytes: err = %v", n, err)
		}
	}
}

func TestMarshalLoadRoundTrip(t *testing.T) {
	c := getChain(t)
	cert, err := New(c.leafKey, c.leaf, []*x509.Certificate{c.inter, c.root})
	if err != nil {
		t.Fatal(err)
	}
	kd, err := cert.MarshalKey()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(cert.ChainDER(), kd)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Key.Equal(cert.Key) || back.RootFingerprint() != cert.RootFingerprint() {
		t.Fatal("round trip changed the certificate")
	}
	if _, err := Load(nil, kd); !errors.Is(err, ErrChain) {
		t.Errorf("empty chain: %v", err)
	}
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func TestParsePEM(t *testing.T) {
	c := getChain(t)
	chainPEM := append(append(pemCert(c.root), pemCert(c.leaf)...), pemCert(c.inter)...)
	for _, kp := range [][]byte{
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(c.leafKey)}),
		func() []byte {
			d, _ := x509.MarshalPKCS8PrivateKey(c.leafKey)
			return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: d})
		}(),
	} {
		cert, err := ParsePEM(chainPEM, kp)
		if err != nil {
			t.Fatal(err)
		}
		if !cert.Leaf().Equal(c.leaf) || !cert.Root().Equal(c.root) {
			t.Fatal("leaf or root wrong")
		}
	}
	if _, err := ParsePEM(chainPEM, []byte("nothing")); err == nil {
		t.Error("a key file without a key was accepted")
	}
	other := rsaKey(t)
	if _, err := ParsePEM(chainPEM, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)})); !errors.Is(err, ErrKeyMatch) {
		t.Errorf("foreign key: %v", err)
	}
}

// TestOpenSSLInterop makes PFX files with `openssl pkcs12 -export`, legacy
// (3DES, SHA-1 MAC) and OpenSSL 3's default (PBES2 AES-256-CBC), imports
// them, and checks the root fingerprint against
// `openssl x509 -outform DER | sha256sum`.
func TestOpenSSLInterop(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is missing in CI")
		}
		t.Skip("openssl not installed (apt-get install openssl)")
	}
	c := getChain(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	leafP := write("leaf.pem", pemCert(c.leaf))
	caP := write("ca.pem", append(pemCert(c.inter), pemCert(c.root)...))
	rootP := write("root.pem", pemCert(c.root))
	keyP := write("key.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(c.leafKey)}))
	passP := write("pass", []byte("pfx-pass-123\n"))

	der, err := exec.Command("openssl", "x509", "-in", rootP, "-outform", "DER").Output()
	if err != nil {
		t.Fatal(err)
	}
	opensslFP := sha256.Sum256(der)

	variants := map[string][]string{
		"aes256":     {},
		"legacy3des": {"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"},
		// -legacy: RC2-40 certificates, 3DES key, SHA-1 MAC (what
		// Windows and OpenSSL 1.x wrote for years).
		"legacy": {"-legacy"},
	}
	for name, extra := range variants {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, name+".pfx")
			args := append([]string{"pkcs12", "-export", "-in", leafP, "-inkey", keyP, "-certfile", caP,
				"-out", out, "-passout", "file:" + passP}, extra...)
			if b, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
				t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, b)
			}
			pfx, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			cert, err := ParsePFX(pfx, "pfx-pass-123")
			if err != nil {
				t.Fatal(err)
			}
			if got := cert.RootFingerprint(); got != opensslFP {
				t.Fatalf("fingerprint %s, openssl says %s", hex.EncodeToString(got[:]), hex.EncodeToString(opensslFP[:]))
			}
			if len(cert.Chain) != 3 || !cert.Leaf().Equal(c.leaf) {
				t.Fatal("chain not leaf to root")
			}
			if _, err := ParsePFX(pfx, "wrong"); !errors.Is(err, ErrPassword) {
				t.Fatalf("wrong password: %v", err)
			}
		})
	}
}
