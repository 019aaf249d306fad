package devicecred

import (
	"encoding/hex"
	"strings"
	"testing"
)

func FuzzParsePrivatePEM(f *testing.F) {
	for _, name := range []string{"p256-key.pem", "p256-key-sec1.pem", "p256-pub.pem", "p256-csr.pem"} {
		f.Add(readFixture(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		priv, err := ParsePrivatePEM(data)
		if err != nil {
			return
		}
		// Anything accepted re-encodes as PKCS#8 and parses back equal.
		p, err := PrivatePEM(priv)
		if err != nil {
			t.Fatalf("accepted key does not re-encode: %v", err)
		}
		back, err := ParsePrivatePEM(p)
		if err != nil || !back.Equal(priv) {
			t.Fatalf("re-encoded key does not round-trip: %v", err)
		}
	})
}

func FuzzDecodeChallenge(f *testing.F) {
	v := vectors(f)
	f.Add(hex.EncodeToString(mustVector(f, v, "challenge.nonce")))
	f.Add("device-0001." + hex.EncodeToString(mustVector(f, v, "challenge.nonce")))
	f.Add(string(mustVector(f, v, "challenge.nonce.b64url")))
	f.Add(string(mustVector(f, v, "challenge.signature.b64url")))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, nonce, err := DecodeChallenge(s)
		if err != nil {
			return
		}
		if len(nonce) != ChallengeSize {
			t.Fatalf("DecodeChallenge(%q) returned %d bytes", s, len(nonce))
		}
		trimmed := strings.TrimSpace(s)
		if strings.HasPrefix(trimmed, "-") {
			t.Fatalf("DecodeChallenge accepted %q, which starts with -", s)
		}
		if id == "" {
			// A bare nonce: one encoding per value.
			if hex.EncodeToString(nonce) != trimmed {
				t.Fatalf("DecodeChallenge accepted a non-canonical %q", s)
			}
			return
		}
		// One encoding per value: re-encoding gives the trimmed input.
		enc, err := EncodeChallenge(id, nonce)
		if err != nil {
			t.Fatalf("EncodeChallenge(%q) after DecodeChallenge(%q): %v", id, s, err)
		}
		if enc != trimmed {
			t.Fatalf("DecodeChallenge accepted a non-canonical %q", s)
		}
	})
}
