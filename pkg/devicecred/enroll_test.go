package devicecred

import (
	"bytes"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func TestParsePublicKeyAccepts(t *testing.T) {
	v := vectors(t)
	wantSPKI := mustVector(t, v, "p256.spki")
	wantFP := string(mustVector(t, v, "p256.fingerprint"))

	inputs := []string{"p256-pub.pem", "p256-pub.der", "p256-csr.pem", "p256-csr.der"}
	for _, name := range inputs {
		t.Run(name, func(t *testing.T) {
			data := readFixture(t, name)
			for _, in := range [][]byte{data, append(append([]byte("\n  "), data...), "\n\n"...)} {
				if strings.HasSuffix(name, ".der") && !bytes.Equal(in, data) {
					continue // whitespace only makes sense around PEM
				}
				pub, spki, err := ParsePublicKey(in)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(spki, wantSPKI) {
					t.Errorf("spki = %x\nwant   %x", spki, wantSPKI)
				}
				if fp := Fingerprint(spki); fp != wantFP {
					t.Errorf("fingerprint = %s, want %s", fp, wantFP)
				}
				if again, _ := SPKI(pub); !bytes.Equal(again, spki) {
					t.Errorf("SPKI(pub) = %x, want the returned spki", again)
				}
			}
		})
	}

	// A legacy "NEW CERTIFICATE REQUEST" label is the same thing.
	block, _ := pem.Decode(readFixture(t, "p256-csr.pem"))
	block.Type = "NEW CERTIFICATE REQUEST"
	if _, spki, err := ParsePublicKey(pem.EncodeToMemory(block)); err != nil || !bytes.Equal(spki, wantSPKI) {
		t.Errorf("NEW CERTIFICATE REQUEST: spki %x, error %v", spki, err)
	}
}

func TestParsePublicKeyRejects(t *testing.T) {
	der := readFixture(t, "p256-pub.der")
	tests := []struct {
		name        string
		in          []byte
		unsupported bool
		msg         string
	}{
		{"P-384", readFixture(t, "p384-pub.pem"), true, "public key is ECDSA P-384, want ECDSA P-256"},
		{"P-521", readFixture(t, "p521-pub.pem"), true, "public key is ECDSA P-521, want ECDSA P-256"},
		{"secp256k1", readFixture(t, "secp256k1-pub.pem"), true, "public key is ECDSA secp256k1, want ECDSA P-256"},
		{"RSA", readFixture(t, "rsa2048-pub.pem"), true, "public key is RSA-2048, want ECDSA P-256"},
		{"Ed25519", readFixture(t, "ed25519-pub.pem"), true, "public key is Ed25519, want ECDSA P-256"},
		{"X25519", readFixture(t, "x25519-pub.pem"), true, "public key is ECDH X25519, want ECDSA P-256"},
		{"Ed448", readFixture(t, "ed448-pub.pem"), true, "public key is Ed448, want ECDSA P-256"},
		{"P-384 DER", pemToDER(t, "p384-pub.pem"), true, "public key is ECDSA P-384"},
		{"secp256k1 DER", pemToDER(t, "secp256k1-pub.pem"), true, "public key is ECDSA secp256k1"},
		{"Ed448 DER", pemToDER(t, "ed448-pub.pem"), true, "public key is Ed448"},
		{"P-384 CSR", readFixture(t, "p384-csr.pem"), true, "public key is ECDSA P-384, want ECDSA P-256"},
		{"Ed25519 CSR", readFixture(t, "ed25519-csr.pem"), true, "public key is Ed25519, want ECDSA P-256"},
		{"Ed448 CSR", readFixture(t, "ed448-csr.pem"), true, "public key is Ed448, want ECDSA P-256"},
		{"secp256k1 CSR", readFixture(t, "secp256k1-csr.pem"), true, "public key is ECDSA secp256k1, want ECDSA P-256"},
		{"secp256k1 CSR DER", pemToDER(t, "secp256k1-csr.pem"), true, "public key is ECDSA secp256k1, want ECDSA P-256"},
		{"Ed448 CSR DER", pemToDER(t, "ed448-csr.pem"), true, "public key is Ed448, want ECDSA P-256"},
		{"CSR bad signature PEM", readFixture(t, "p256-csr-badsig.pem"), false, "signature does not verify"},
		{"CSR bad signature DER", readFixture(t, "p256-csr-badsig.der"), false, "signature does not verify"},
		{"private key", readFixture(t, "p256-key.pem"), false, "enrol the public key instead"},
		{"SEC1 private key", readFixture(t, "p256-key-sec1.pem"), false, "enrol the public key instead"},
		{"empty", nil, false, "empty"},
		{"whitespace", []byte(" \n"), false, "not a PEM public key"},
		{"garbage", []byte("hello"), false, "not a PEM public key"},
		{"truncated DER", der[:len(der)-1], false, "not a PEM public key"},
		{"DER with trailing byte", append(append([]byte{}, der...), 0), false, "not a PEM public key"},
		{"point off the curve", offCurve(der), false, "parsing DER public key"},
		{"two PEM blocks", append(readFixture(t, "p256-pub.pem"), readFixture(t, "p256-pub.pem")...), false, "exactly one"},
		{"broken PEM", []byte("-----BEGIN PUBLIC KEY-----\nAAA\n"), false, "malformed PEM"},
		{"certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), false, `"CERTIFICATE"`},
		{"other PEM", pem.EncodeToMemory(&pem.Block{Type: "AGE ENCRYPTED FILE", Bytes: der}), false, `"AGE ENCRYPTED FILE"`},
		{"too large", make([]byte, MaxPublicKeyInput+1), false, "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, _, err := ParsePublicKey(tt.in)
			if err == nil {
				t.Fatalf("ParsePublicKey = %v, want error", pub)
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

func pemToDER(t testing.TB, name string) []byte {
	t.Helper()
	block, _ := pem.Decode(readFixture(t, name))
	if block == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	return block.Bytes
}

// offCurve returns a copy of a P-256 SPKI with the point's last byte changed,
// which takes it off the curve.
func offCurve(spki []byte) []byte {
	b := append([]byte{}, spki...)
	b[len(b)-1] ^= 0x01
	return b
}

func FuzzParsePublicKey(f *testing.F) {
	for _, name := range []string{
		"p256-pub.pem", "p256-pub.der", "p256-csr.pem", "p256-csr.der",
		"p256-csr-badsig.pem", "p256-csr-badsig.der", "p384-pub.pem",
		"p521-pub.pem", "secp256k1-pub.pem", "rsa2048-pub.pem",
		"ed25519-pub.pem", "x25519-pub.pem", "ed448-pub.pem",
		"p384-csr.pem", "ed25519-csr.pem", "ed448-csr.pem", "secp256k1-csr.pem", "p256-key.pem",
	} {
		f.Add(readFixture(f, name))
	}
	f.Add(pemToDER(f, "secp256k1-pub.pem"))
	f.Add(pemToDER(f, "ed448-pub.pem"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pub, spki, err := ParsePublicKey(data)
		if err != nil {
			if pub != nil || spki != nil {
				t.Fatalf("error %v with non-nil results", err)
			}
			return
		}
		want, err := SPKI(pub)
		if err != nil {
			t.Fatalf("accepted key has no SPKI: %v", err)
		}
		if !bytes.Equal(spki, want) {
			t.Fatalf("returned spki %x != SPKI(pub) %x", spki, want)
		}
		// The canonical SPKI parses back to the same key.
		pub2, spki2, err := ParsePublicKey(spki)
		if err != nil || !pub2.Equal(pub) || !bytes.Equal(spki2, spki) {
			t.Fatalf("canonical SPKI does not round-trip: %v", err)
		}
	})
}
