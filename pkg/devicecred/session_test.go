package devicecred

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSessionRoundTripAndRefusals(t *testing.T) {
	key := bytes.Repeat([]byte{1}, SessionKeySize)
	now := time.Unix(1_800_000_000, 0)
	s := Session{TenantID: 7, Expires: now.Add(15 * time.Minute)}
	s.Fingerprint[0], s.Fingerprint[31] = 0xaa, 0x55
	tok, err := IssueSession(key, s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, SessionPrefix) {
		t.Fatalf("token %q lacks the prefix", tok)
	}
	got, err := VerifySession(key, tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.TenantID != 7 || got.Fingerprint != s.Fingerprint || !got.Expires.Equal(s.Expires) {
		t.Fatalf("round trip: %+v, want %+v", got, s)
	}
	other := bytes.Repeat([]byte{2}, SessionKeySize)
	flip := []byte(tok)
	flip[len(flip)-3] ^= 1
	for name, tc := range map[string]struct {
		key []byte
		tok string
		at  time.Time
	}{
		"expired":       {key, tok, s.Expires},
		"other key":     {other, tok, now},
		"flipped":       {key, string(flip), now},
		"no prefix":     {key, strings.TrimPrefix(tok, SessionPrefix), now},
		"service token": {key, "kst1_" + strings.TrimPrefix(tok, SessionPrefix), now},
		"truncated":     {key, tok[:len(tok)-2], now},
		"empty":         {key, "", now},
		"short key":     {key[:16], tok, now},
	} {
		if _, err := VerifySession(tc.key, tc.tok, tc.at); !errors.Is(err, ErrBadSession) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	// Changing the tenant inside the body (re-encoded) breaks the MAC.
	s2 := s
	s2.TenantID = 8
	tok2, _ := IssueSession(key, s2)
	if tok2 == tok {
		t.Fatal("tenant not in the token")
	}
}

func FuzzVerifySession(f *testing.F) {
	key := bytes.Repeat([]byte{3}, SessionKeySize)
	tok, _ := IssueSession(key, Session{TenantID: 1, Expires: time.Unix(2_000_000_000, 0)})
	f.Add(tok)
	f.Add("ksd1_")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := VerifySession(key, s, time.Unix(1_000_000_000, 0))
		if err == nil && s != tok {
			// Only a token made with the key verifies.
			re, _ := IssueSession(key, got)
			if re != s {
				t.Fatalf("%q verified but is not the canonical token %q", s, re)
			}
		}
	})
}
