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

	if got, err := EncodeChallenge(string(id), nonce); err != nil || got != string(id)+"."+hex.EncodeToString(mustVector(t, v, "challenge.nonce")) {
		t.Errorf("EncodeChallenge = %q, %v", got, err)
	}
	if got, want := EncodeSignature(sig), string(mustVector(t, v, "challenge.signature.b64url")); got != want {
		t.Errorf("EncodeSignature = %q, want %q", got, want)
	}
	gotID, gotNonce, err := DecodeChallenge(hex.EncodeToString(mustVector(t, v, "challenge.nonce")))
	if err != nil || gotID != "" || !bytes.Equal(gotNonce, nonce) {
		t.Errorf("DecodeChallenge(bare nonce) = %q, %x, %v; want \"\", %x", gotID, gotNonce, err, nonce)
	}
	gotID, gotNonce, err = DecodeChallenge("device-0001." + hex.EncodeToString(mustVector(t, v, "challenge.nonce")) + "\n")
	if err != nil || gotID != "device-0001" || !bytes.Equal(gotNonce, nonce) {
		t.Errorf("DecodeChallenge = %q, %x, %v; want device-0001, %x", gotID, gotNonce, err, nonce)
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
	enc, err := EncodeChallenge(id, nonce)
	if err != nil {
		t.Fatal(err)
	}
	did, dnonce, err := DecodeChallenge(enc)
	if err != nil || did != id {
		t.Fatal(did, err)
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
	good, err := EncodeChallenge("dev_5d0c3a9e1b7f2468", make([]byte, ChallengeSize))
	if err != nil {
		t.Fatal(err)
	}
	bare := good[len("dev_5d0c3a9e1b7f2468."):]
	for _, in := range []string{
		"",
		bare[:63],                          // odd length
		bare[:62],                          // 31 bytes
		bare + "00",                        // 33 bytes
		strings.Replace(bare, "0", "A", 1), // upper case
		strings.Replace(bare, "0", "g", 1), // not hex
		"-" + bare[1:],                     // what base64url could start with
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", // the old base64url form
		good[:len(good)-1],                            // 31.5 bytes
		"." + bare,                                    // empty device ID
		"-dev_5d0c3a9e1b7f2468." + bare,               // a flag
		"dev 1." + bare,                               // space in the ID
		"dev.1." + bare,                               // a second separator
		"dev_5d0c3a9e1b7f2468.AB" + bare[2:],          // upper-case nonce
		strings.Repeat("a", 65) + "." + bare,          // ID too long
		"dev_5d0c3a9e1b7f2468.",
	} {
		if id, b, err := DecodeChallenge(in); err == nil {
			t.Errorf("DecodeChallenge(%q) = %q, %x, want error", in, id, b)
		}
	}
	for _, id := range []string{"", "-x", "a.b", "a b", strings.Repeat("a", 65), "é"} {
		if c, err := EncodeChallenge(id, make([]byte, ChallengeSize)); err == nil {
			t.Errorf("EncodeChallenge(%q) = %q, want error", id, c)
		}
	}
	if c, err := EncodeChallenge("d", make([]byte, 31)); err == nil {
		t.Errorf("EncodeChallenge(31 bytes) = %q, want error", c)
	}
	for _, in := range []string{"", "MEU", strings.Repeat("A", 200)} {
		if b, err := DecodeSignature(in); err == nil {
			t.Errorf("DecodeSignature(%q) = %x, want error", in, b)
		}
	}
}
