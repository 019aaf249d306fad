package devicecred

import (
	"bytes"
	"encoding/hex"
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
	f.Add(string(mustVector(f, v, "challenge.nonce.b64url")))
	f.Add(string(mustVector(f, v, "challenge.signature.b64url")))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if nonce, err := DecodeChallenge(s); err == nil {
			if len(nonce) != ChallengeSize {
				t.Fatalf("DecodeChallenge(%q) returned %d bytes", s, len(nonce))
			}
			// One encoding per value: re-encoding gives the trimmed input.
			if again, _ := DecodeChallenge(EncodeChallenge(nonce)); !bytes.Equal(again, nonce) {
				t.Fatal("EncodeChallenge does not round-trip")
			}
			if EncodeChallenge(nonce) != string(bytes.TrimSpace([]byte(s))) {
				t.Fatalf("DecodeChallenge accepted a non-canonical %q", s)
			}
		}
	})
}
