package devicecred

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"testing"
)

func TestChallengeMessageBoundLayout(t *testing.T) {
	nonce := make([]byte, ChallengeSize)
	binding := make([]byte, ChannelBindingSize)
	for i := range nonce {
		nonce[i] = byte(i)
		binding[i] = byte(0xff - i)
	}
	got := hex.EncodeToString(ChallengeMessageBound("device-0001", nonce, binding))
	want := hex.EncodeToString([]byte("keysmith/v1/device-challenge-tls")) + "00" + "0000000b" +
		hex.EncodeToString([]byte("device-0001")) + hex.EncodeToString(nonce) + hex.EncodeToString(binding)
	if got != want {
		t.Fatalf("bound message\n got %s\nwant %s", got, want)
	}
}

func TestBoundChallengeSignVerify(t *testing.T) {
	priv, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	nonce, _ := NewChallenge()
	binding := bytes.Repeat([]byte{7}, ChannelBindingSize)
	sig, err := SignChallengeBound(priv, "dev_1", nonce, binding)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyChallengeBound(&priv.PublicKey, "dev_1", nonce, binding, sig); err != nil {
		t.Fatalf("bound signature does not verify: %v", err)
	}
	other := bytes.Repeat([]byte{8}, ChannelBindingSize)
	if err := VerifyChallengeBound(&priv.PublicKey, "dev_1", nonce, other, sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("relayed to another connection: %v", err)
	}
	// An unbound answer is no bound answer, and the other way round.
	if err := VerifyChallenge(&priv.PublicKey, "dev_1", nonce, sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("bound signature verified as unbound: %v", err)
	}
	plain, _ := SignChallenge(priv, "dev_1", nonce)
	if err := VerifyChallengeBound(&priv.PublicKey, "dev_1", nonce, binding, plain); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("unbound signature verified as bound: %v", err)
	}
	if _, err := SignChallengeBound(priv, "dev_1", nonce, binding[:31]); err == nil {
		t.Fatal("31-byte binding accepted")
	}
}

// TestMutualTLSIdentity runs real TLS 1.3 over loopback: the server sees the
// device's SPKI fingerprint, and both ends agree on a channel binding that
// differs between connections.
func TestMutualTLSIdentity(t *testing.T) {
	devKey, _ := Generate()
	clientCert, err := ClientCertificate(devKey, "dev_1")
	if err != nil {
		t.Fatal(err)
	}
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvCert, err := ClientCertificate(srvKey, "127.0.0.1") // any self-signed cert serves here
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{srvCert},
		ClientAuth:   tls.RequireAnyClientCert,
		MinVersion:   tls.VersionTLS13,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type seen struct {
		fp      [32]byte
		ok      bool
		binding []byte
		err     error
	}
	results := make(chan seen, 2)
	go func() {
		for range 2 {
			c, err := ln.Accept()
			if err != nil {
				results <- seen{err: err}
				return
			}
			tc := c.(*tls.Conn)
			if err := tc.Handshake(); err != nil {
				results <- seen{err: err}
				c.Close()
				continue
			}
			cs := tc.ConnectionState()
			fp, ok := PeerSPKIFingerprint(&cs)
			b, err := ChannelBinding(&cs)
			results <- seen{fp, ok, b, err}
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	spki, _ := SPKI(&devKey.PublicKey)
	var bindings [][]byte
	for range 2 {
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
			Certificates:       []tls.Certificate{clientCert},
			InsecureSkipVerify: true, // the server's identity is not under test here
			MinVersion:         tls.VersionTLS13,
		})
		if err != nil {
			t.Fatal(err)
		}
		cs := conn.ConnectionState()
		cb, err := ChannelBinding(&cs)
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
		s := <-results
		if s.err != nil {
			t.Fatal(s.err)
		}
		if !s.ok || s.fp != sha256.Sum256(spki) {
			t.Fatalf("server saw fingerprint %x, want SHA-256 of the device SPKI", s.fp)
		}
		if !bytes.Equal(cb, s.binding) || len(cb) != ChannelBindingSize {
			t.Fatal("client and server channel bindings differ")
		}
		bindings = append(bindings, cb)
	}
	if bytes.Equal(bindings[0], bindings[1]) {
		t.Fatal("two connections share a channel binding")
	}
	if _, ok := PeerSPKIFingerprint(&tls.ConnectionState{}); ok {
		t.Fatal("fingerprint without a peer certificate")
	}
}
