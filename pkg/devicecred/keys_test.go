package devicecred

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func TestKnownAnswerKey(t *testing.T) {
	v := vectors(t)
	wantSPKI := mustVector(t, v, "p256.spki")
	wantFP := string(mustVector(t, v, "p256.fingerprint"))

	for _, name := range []string{"p256-key.pem", "p256-key-sec1.pem"} {
		t.Run(name, func(t *testing.T) {
			priv, err := ParsePrivatePEM(readFixture(t, name))
			if err != nil {
				t.Fatal(err)
			}
			spki, err := SPKI(&priv.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(spki, wantSPKI) {
				t.Errorf("SPKI = %x\nwant   %x", spki, wantSPKI)
			}
			if got := Fingerprint(spki); got != wantFP {
				t.Errorf("Fingerprint = %s, want %s", got, wantFP)
			}
		})
	}
	// PrivatePEM re-encodes the PKCS#8 fixture byte for byte.
	priv, err := ParsePrivatePEM(readFixture(t, "p256-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := PrivatePEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	if want := readFixture(t, "p256-key.pem"); !bytes.Equal(got, want) {
		t.Errorf("PrivatePEM =\n%s\nwant\n%s", got, want)
	}
}

func TestFingerprint(t *testing.T) {
	// SHA-256 of the empty string, a vector independent of this package.
	if got, want := Fingerprint(nil), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("Fingerprint(nil) = %s, want %s", got, want)
	}
}

func TestGenerate(t *testing.T) {
	k1, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if k1.Curve != elliptic.P256() {
		t.Errorf("curve = %s, want P-256", k1.Curve.Params().Name)
	}
	if k1.Equal(k2) {
		t.Error("two Generate calls returned the same key")
	}
	spki, err := SPKI(&k1.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(spki) != 91 {
		t.Errorf("len(SPKI) = %d, want 91", len(spki))
	}
	if fp := Fingerprint(spki); len(fp) != 64 || strings.ToLower(fp) != fp {
		t.Errorf("Fingerprint = %q, want 64 lowercase hex digits", fp)
	}
	p, err := PrivatePEM(k1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(p, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Errorf("PrivatePEM does not start with a PRIVATE KEY block:\n%s", p)
	}
	back, err := ParsePrivatePEM(p)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(k1) {
		t.Error("ParsePrivatePEM(PrivatePEM(k)) != k")
	}
}

func TestSPKIRejectsOtherCurves(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SPKI(&k.PublicKey); !errors.Is(err, ErrUnsupportedKey) {
		t.Errorf("SPKI(P-384) error = %v, want ErrUnsupportedKey", err)
	}
	if _, err := PrivatePEM(k); !errors.Is(err, ErrUnsupportedKey) {
		t.Errorf("PrivatePEM(P-384) error = %v, want ErrUnsupportedKey", err)
	}
}

func pkcs8PEM(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestParsePrivatePEMRejects(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	sec1P384, _ := x509.MarshalECPrivateKey(p384)
	good := readFixture(t, "p256-key.pem")
	block, _ := pem.Decode(good)

	tests := []struct {
		name        string
		in          []byte
		unsupported bool
		msg         string
	}{
		{"empty", nil, false, "no PEM block"},
		{"garbage", []byte("hello"), false, "no PEM block"},
		{"public key", readFixture(t, "p256-pub.pem"), false, `"PUBLIC KEY"`},
		{"trailing data", append(append([]byte{}, good...), "junk"...), false, "after the PEM"},
		{"two keys", append(append([]byte{}, good...), good...), false, "after the PEM"},
		{"encrypted headers", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: block.Bytes}), false, "headers"},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x00}}), false, "PKCS#8"},
		{"P-384 PKCS#8", pkcs8PEM(t, p384), true, "ECDSA P-384, want ECDSA P-256"},
		{"P-384 SEC1", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1P384}), true, "ECDSA P-384, want ECDSA P-256"},
		{"RSA", pkcs8PEM(t, rsaKey), true, "RSA-2048, want ECDSA P-256"},
		{"Ed25519", pkcs8PEM(t, edKey), true, "Ed25519, want ECDSA P-256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePrivatePEM(tt.in)
			if err == nil {
				t.Fatalf("ParsePrivatePEM = %v, want error", k)
			}
			if got := errors.Is(err, ErrUnsupportedKey); got != tt.unsupported {
				t.Errorf("errors.Is(%q, ErrUnsupportedKey) = %v, want %v", err, got, tt.unsupported)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

func TestSPKIHexIsLowercase(t *testing.T) {
	// The vectors file stores lowercase hex; make sure the fingerprint of the
	// fixture matches sha256sum's lowercase spelling, not just hex.Decode's.
	v := vectors(t)
	fp := string(mustVector(t, v, "p256.fingerprint"))
	if _, err := hex.DecodeString(fp); err != nil || strings.ToLower(fp) != fp {
		t.Fatalf("p256.fingerprint %q is not lowercase hex", fp)
	}
}
