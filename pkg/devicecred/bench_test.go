package devicecred

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkSealWF18 measures one seal at the production work factor: one
// scrypt with N = 2^18, r = 8 (256 MiB).
func BenchmarkSealWF18(b *testing.B) {
	pemBytes := readFixture(b, "p256-key.pem")
	for b.Loop() {
		if err := SealPEM(io.Discard, pemBytes, testPassphrase, DefaultWorkFactor); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRevealWF18 measures one reveal at the production work factor.
func BenchmarkRevealWF18(b *testing.B) {
	var buf bytes.Buffer
	if err := SealPEM(&buf, readFixture(b, "p256-key.pem"), testPassphrase, DefaultWorkFactor); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := RevealPEM(bytes.NewReader(buf.Bytes()), testPassphrase); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerate measures minting a device key with its SPKI,
// fingerprint and PKCS#8 PEM.
func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		k, err := Generate()
		if err != nil {
			b.Fatal(err)
		}
		spki, err := SPKI(&k.PublicKey)
		if err != nil {
			b.Fatal(err)
		}
		_ = Fingerprint(spki)
		if _, err := PrivatePEM(k); err != nil {
			b.Fatal(err)
		}
	}
}
