package legacy

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/fernet/fernet-go"
)

// fuzzOpener returns the opener for fuzz key number i and the tokens it must
// open, with their messages: the python fixture groups, then the spec key.
func fuzzOpener(tb testing.TB, i int) (*Opener, map[string]string) {
	tb.Helper()
	groups := fixtures(tb).Groups
	i %= len(groups) + 1
	if i == len(groups) {
		k, err := fernet.DecodeKey(specSecret)
		if err != nil {
			tb.Fatal(err)
		}
		return &Opener{key: *k}, map[string]string{specToken: "hello"}
	}
	known := map[string]string{}
	for _, v := range groups[i].Values {
		known[v.Token] = v.Plaintext
	}
	return opener(tb, i), known
}

// FuzzOpen checks that Open never panics, that it opens exactly the tokens
// that were made under the key (no changed spelling or byte of one opens),
// that IsToken agrees with it, and that errors are the sentinels and do not
// repeat the input.
func FuzzOpen(f *testing.F) {
	fx := fixtures(f)
	for i, g := range fx.Groups {
		for _, v := range g.Values {
			f.Add(uint8(i), v.Token)
		}
		tok := g.Values[1].Token
		raw, _ := base64.URLEncoding.DecodeString(tok)
		raw[len(raw)/2] ^= 1
		f.Add(uint8(i), base64.URLEncoding.EncodeToString(raw))
		f.Add(uint8(i), tok+"\n")
		f.Add(uint8(i), strings.TrimRight(tok, "="))
		f.Add(uint8(i), tok[:len(tok)-8])
	}
	spec := uint8(len(fx.Groups))
	f.Add(spec, specToken)
	f.Add(spec, "")
	f.Add(spec, "gAAAA")
	f.Add(spec, "gAAAA=")
	f.Add(spec, strings.Repeat("gAAAA", 20))

	f.Fuzz(func(t *testing.T, key uint8, token string) {
		o, known := fuzzOpener(t, int(key))
		msg, err := o.Open(token)
		if IsToken(token) == errors.Is(err, ErrMalformed) {
			t.Fatalf("IsToken(%q) = %v but Open error is %v", token, IsToken(token), err)
		}
		want, isKnown := known[token]
		if err == nil {
			if !isKnown {
				t.Fatalf("opened a token that was never made under this key: %q", token)
			}
			if string(msg) != want {
				t.Fatalf("opened %q to %q, want %q", token, msg, want)
			}
			return
		}
		if isKnown {
			t.Fatalf("failed to open a good token: %v", err)
		}
		if msg != nil {
			t.Fatalf("message %q returned with error %v", msg, err)
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("error %v is neither sentinel", err)
		}
		if len(token) > len(tokenPrefix)+2 && strings.Contains(err.Error(), token) {
			t.Fatalf("error repeats the token: %v", err)
		}
	})
}

func BenchmarkOpen(b *testing.B) {
	values := fixtures(b).Groups[0].Values
	o := opener(b, 0) // derived once, outside the timed loops
	short, long := values[0], values[0]
	for _, v := range values {
		if v.Plaintext == "hello" {
			short = v
		}
		if len(v.Plaintext) > len(long.Plaintext) {
			long = v
		}
	}
	for _, v := range []struct {
		name  string
		token string
		size  int
	}{
		{"short", short.Token, len(short.Plaintext)},
		{"multi-KB", long.Token, len(long.Plaintext)},
	} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(v.size))
			for b.Loop() {
				if _, err := o.Open(v.token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDerive(b *testing.B) {
	g := &fixtures(b).Groups[0]
	salt, mode := g.settings(b)
	input := g.input(b, mode)
	for b.Loop() {
		if _, err := NewOpener(input, salt); err != nil {
			b.Fatal(err)
		}
	}
}
