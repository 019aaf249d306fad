package seal

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// TestKnownAnswer pins the output for a fixed key and nonce. The expected
// bytes are AES-256-GCM from NIST SP 800-38D test case 16's key and IV
// structure checked with Python's cryptography (AESGCM).
func TestKnownAnswer(t *testing.T) {
	key, _ := hex.DecodeString("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
	nonce, _ := hex.DecodeString("cafebabefacedbaddecaf888")
	pt, _ := hex.DecodeString("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
	ad, _ := hex.DecodeString("feedfacedeadbeeffeedfacedeadbeefabaddad2")
	want := "cafebabefacedbaddecaf888" + // nonce first
		"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662" +
		"76fc6ece0f4e1768cddf8853bb2d551b"
	a, err := NewWithRand(key, bytes.NewReader(nonce))
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Seal(nil, pt, ad)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(got) != want {
		t.Fatalf("Seal = %x\nwant   %s", got, want)
	}
	back, err := a.Open(nil, got, ad)
	if err != nil || !bytes.Equal(back, pt) {
		t.Fatalf("Open: %v", err)
	}
	got[len(got)-1] ^= 1
	if _, err := a.Open(nil, got, ad); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := a.Open(nil, got[:10], ad); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("short: %v", err)
	}
}

func TestAD(t *testing.T) {
	got := hex.EncodeToString(AD("l", []byte("ab"), nil))
	if want := "000000016c00000002616200000000"; got != want {
		t.Fatalf("AD = %s, want %s", got, want)
	}
	// Moving a byte between fields changes the AD.
	if bytes.Equal(AD("x", []byte("ab"), []byte("c")), AD("x", []byte("a"), []byte("bc"))) {
		t.Fatal("AD is ambiguous")
	}
}

func TestKeySize(t *testing.T) {
	if _, err := New(make([]byte, 16)); err == nil {
		t.Fatal("16-byte key accepted")
	}
}
