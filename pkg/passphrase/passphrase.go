// Package passphrase generates the one-time passphrases that protect device
// private keys, as described in docs/device-format.md ("Passphrase").
//
// A passphrase is N words drawn independently and uniformly from the EFF large
// wordlist (https://www.eff.org/dice), lowercase, joined with "-". The four
// words of that list that themselves contain a hyphen ("drop-down",
// "felt-tip", "t-shirt", "yo-yo") are left out, so a passphrase splits on "-"
// into exactly N words in exactly one way. That leaves 7772 words, so each
// word carries log2(7772) ≈ 12.92 bits of entropy: the default and minimum of
// 4 words give ≈ 51.7 bits, 6 words ≈ 77.5 bits. Randomness comes from
// crypto/rand through github.com/sethvargo/go-diceware, which rolls each die
// with crypto/rand.Int and so has no modulo bias.
//
// Unlike go-diceware's own Generate, words may repeat: every word is an
// independent draw, which is what makes the entropy exactly N·log2(7772).
package passphrase

import (
	"fmt"
	"math"
	"sync"

	"github.com/sethvargo/go-diceware/diceware"
)

const (
	// MinWords is the fewest words Generate accepts.
	MinWords = 4
	// DefaultWords is the number of words callers should use unless told
	// otherwise.
	DefaultWords = 4
	// MaxWords is the most words Generate accepts; it only guards against
	// absurd requests.
	MaxWords = 64
	// Separator joins the words of a passphrase.
	Separator = "-"
)

// words is the allowed subset of the EFF large wordlist, in dice order.
var words = sync.OnceValue(func() []string {
	list := diceware.WordListEffLarge()
	var out []string
	forEachRoll(list.Digits(), func(roll int) {
		if w := list.WordAt(roll); allowed(w) {
			out = append(out, w)
		}
	})
	return out
})

// forEachRoll calls f with every dice roll of the given number of six-sided
// dice, as go-diceware numbers them (11111 … 66666 for five dice).
func forEachRoll(digits int, f func(roll int)) {
	var rec func(prefix, left int)
	rec = func(prefix, left int) {
		if left == 0 {
			f(prefix)
			return
		}
		for d := 1; d <= 6; d++ {
			rec(prefix*10+d, left-1)
		}
	}
	rec(0, digits)
}

// allowed reports whether w is a non-empty run of ASCII lowercase letters.
func allowed(w string) bool {
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		if w[i] < 'a' || w[i] > 'z' {
			return false
		}
	}
	return true
}

// Wordlist returns a copy of the words a passphrase is drawn from.
func Wordlist() []string {
	return append([]string(nil), words()...)
}

// BitsPerWord is log2 of the number of words a passphrase is drawn from.
func BitsPerWord() float64 {
	return math.Log2(float64(len(words())))
}

// EntropyBits is the entropy of a passphrase of n words.
func EntropyBits(n int) float64 {
	return float64(n) * BitsPerWord()
}

// Generate returns a fresh passphrase of n words joined with "-". n must be
// between MinWords and MaxWords.
func Generate(n int) (string, error) {
	if n < MinWords {
		return "", fmt.Errorf("passphrase of %d words is too short, want at least %d", n, MinWords)
	}
	if n > MaxWords {
		return "", fmt.Errorf("passphrase of %d words is too long, want at most %d", n, MaxWords)
	}
	gen, err := diceware.NewGenerator(nil) // EFF large list, crypto/rand
	if err != nil {
		return "", fmt.Errorf("generating passphrase: %w", err)
	}
	list := diceware.WordListEffLarge()
	buf := make([]byte, 0, n*10)
	for i := 0; i < n; {
		roll, err := gen.RollWord(list.Digits())
		if err != nil {
			return "", fmt.Errorf("generating passphrase: %w", err)
		}
		w := list.WordAt(roll)
		if !allowed(w) {
			// Redraw: rejection keeps the choice uniform over the allowed words.
			continue
		}
		if i > 0 {
			buf = append(buf, Separator...)
		}
		buf = append(buf, w...)
		i++
	}
	return string(buf), nil
}
