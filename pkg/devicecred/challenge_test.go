package devicecred

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestChallengeKnownAnswer(t *testing.T) {
	v := vectors(t)
	id := string(mustVector(t, v, "challenge.device-id"))
	nonce := mustVector(t, v, "challenge.nonce")
	wantMsg := mustVector(t, v, "challenge.message")
	sig := mustVector(t, v, "challenge.signature")

	if got := ChallengeMessage(id, nonce); !bytes.Equal(got, wantMsg) {
		t.Errorf("ChallengeMessage = %x\nwant             %x", got, wantMsg)
	}
	if got := readFixture(t, "challenge.msg"); !bytes.Equal(got, wantMsg) {
		t.Errorf("testdata/challenge.msg disagrees with vectors.txt")
	}

	pub, _, err := ParsePublicKey(readFixture(t, "p256-pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	// The signature was made by openssl dgst -sha256 -sign.
	if err := VerifyChallenge(pub, id, nonce, sig); err != nil {
		t.Errorf("VerifyChallenge(openssl signature) = %v", err)
	}

	if got, want := EncodeChallenge(nonce), hex.EncodeToString(mustVector(t, v, "challenge.nonce")); got != want {
		t.Errorf("EncodeChallenge = %q, want %q", got, want)
	}
	if got, want := EncodeSignature(sig), string(mustVector(t, v, "challenge.signature.b64url")); got != want {
		t.Errorf("EncodeSignature = %q, want %q", got, want)
	}
	gotNonce, err := DecodeChallenge(hex.EncodeToString(mustVector(t, v, "challenge.nonce")))
	if err != nil || !bytes.Equal(gotNonce, nonce) {
		t.Errorf("DecodeChallenge = %x, %v; want %x", gotNonce, err, nonce)
	}
	gotSig, err := DecodeSignature(string(mustVector(t, v, "challenge.signature.b64url")) + "\n")
	if err != nil || !bytes.Equal(gotSig, sig) {
		t.Errorf("DecodeSignature = %x, %v; want %x", gotSig, err, sig)
	}
}

func TestChallengeMessageLayout(t *testing.T) {
	nonce := bytes.Repeat([]byte{0xaa}, ChallengeSize)
	msg := ChallengeMessage("ab", nonce)
	want := append([]byte("keysmith/v1/device-challenge\x00\x00\x00\x00\x02ab"), nonce...)
	if !bytes.Equal(msg, want) {
		t.Errorf("ChallengeMessage(\"ab\", …) = %q, want %q", msg, want)
	}
	// Moving bytes between the device ID and the nonce changes the message.
	if bytes.Equal(ChallengeMessage("a", append([]byte("b"), nonce[1:]...)), msg) {
		t.Error("device ID is not length-prefixed")
	}
}

func TestSignVerifyChallenge(t *testing.T) {
	priv, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	other, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	nonce, err := NewChallenge()
	if err != nil {
		t.Fatal(err)
	}
	if len(nonce) != ChallengeSize {
		t.Fatalf("len(NewChallenge()) = %d", len(nonce))
	}
	nonce2, _ := NewChallenge()
	if bytes.Equal(nonce, nonce2) {
		t.Fatal("two challenges are equal")
	}
	const id = "device-0001"
	sig, err := SignChallenge(priv, id, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyChallenge(&priv.PublicKey, id, nonce, sig); err != nil {
		t.Fatalf("VerifyChallenge(own signature) = %v", err)
	}
	// Through the CLI encoding and back.
	dsig, err := DecodeSignature(EncodeSignature(sig))
	if err != nil {
		t.Fatal(err)
	}
	dnonce, err := DecodeChallenge(EncodeChallenge(nonce))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyChallenge(&priv.PublicKey, id, dnonce, dsig); err != nil {
		t.Fatalf("VerifyChallenge after encoding = %v", err)
	}

	flipped := append([]byte{}, sig...)
	flipped[len(flipped)-1] ^= 1
	bad := []struct {
		name  string
		pub   *ecdsa.PublicKey
		id    string
		nonce []byte
		sig   []byte
	}{
		{"other key", &other.PublicKey, id, nonce, sig},
		{"other device", &priv.PublicKey, "device-0002", nonce, sig},
		{"other nonce", &priv.PublicKey, id, nonce2, sig},
		{"flipped signature", &priv.PublicKey, id, nonce, flipped},
		{"truncated signature", &priv.PublicKey, id, nonce, sig[:len(sig)-1]},
		{"empty signature", &priv.PublicKey, id, nonce, nil},
		{"huge signature", &priv.PublicKey, id, nonce, make([]byte, 200)},
	}
	for _, tt := range bad {
		if err := VerifyChallenge(tt.pub, tt.id, tt.nonce, tt.sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: VerifyChallenge = %v, want ErrBadSignature", tt.name, err)
		}
	}

	// Malformed inputs are errors, not signatures.
	if _, err := SignChallenge(priv, "", nonce); err == nil {
		t.Error("SignChallenge with empty device ID succeeded")
	}
	if _, err := SignChallenge(priv, id, nonce[:31]); err == nil {
		t.Error("SignChallenge with a 31-byte nonce succeeded")
	}
	if err := VerifyChallenge(&priv.PublicKey, id, nonce[:31], sig); err == nil || errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyChallenge with a 31-byte nonce = %v, want an input error", err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := SignChallenge(p384, id, nonce); !errors.Is(err, ErrUnsupportedKey) {
		t.Errorf("SignChallenge(P-384) = %v, want ErrUnsupportedKey", err)
	}
	if err := VerifyChallenge(&p384.PublicKey, id, nonce, sig); !errors.Is(err, ErrUnsupportedKey) {
		t.Errorf("VerifyChallenge(P-384) = %v, want ErrUnsupportedKey", err)
	}
}

func TestDecodeChallengeRejects(t *testing.T) {
	good := EncodeChallenge(make([]byte, ChallengeSize))
	for _, in := range []string{
		"",
		good[:63],                          // odd length
		good[:62],                          // 31 bytes
		good + "00",                        // 33 bytes
		strings.Replace(good, "0", "A", 1), // upper case
		strings.Replace(good, "0", "g", 1), // not hex
		"-" + good[1:],                     // what base64url could start with
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", // the old base64url form
	} {
		if b, err := DecodeChallenge(in); err == nil {
			t.Errorf("DecodeChallenge(%q) = %x, want error", in, b)
		}
	}
	for _, in := range []string{"", "MEU", strings.Repeat("A", 200)} {
		if b, err := DecodeSignature(in); err == nil {
			t.Errorf("DecodeSignature(%q) = %x, want error", in, b)
		}
	}
}
