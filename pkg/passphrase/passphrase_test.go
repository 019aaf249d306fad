package passphrase

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestWordlist(t *testing.T) {
	list := Wordlist()
	// The EFF large list has 7776 words, four of them hyphenated.
	if got, want := len(list), 7772; got != want {
		t.Fatalf("len(Wordlist()) = %d, want %d", got, want)
	}
	seen := make(map[string]bool, len(list))
	for _, w := range list {
		if !regexp.MustCompile(`^[a-z]+$`).MatchString(w) {
			t.Errorf("word %q is not [a-z]+", w)
		}
		if seen[w] {
			t.Errorf("word %q listed twice", w)
		}
		seen[w] = true
	}
	for _, w := range []string{"drop-down", "felt-tip", "t-shirt", "yo-yo"} {
		if seen[w] {
			t.Errorf("hyphenated word %q is in the list", w)
		}
	}
	for _, w := range []string{"abacus", "zoom", "yoyo"} {
		if !seen[w] {
			t.Errorf("word %q missing from the list", w)
		}
	}
	if got := BitsPerWord(); math.Abs(got-12.924) > 0.001 {
		t.Errorf("BitsPerWord() = %v, want ≈ 12.924", got)
	}
	if got := EntropyBits(4); math.Abs(got-51.696) > 0.01 {
		t.Errorf("EntropyBits(4) = %v, want ≈ 51.70", got)
	}
}

func TestGenerate(t *testing.T) {
	inList := make(map[string]bool)
	for _, w := range Wordlist() {
		inList[w] = true
	}
	charset := regexp.MustCompile(`^[a-z]+(-[a-z]+)*$`)
	for _, n := range []int{MinWords, DefaultWords, 5, 8, MaxWords} {
		p, err := Generate(n)
		if err != nil {
			t.Fatalf("Generate(%d): %v", n, err)
		}
		if !charset.MatchString(p) {
			t.Errorf("Generate(%d) = %q, not lowercase words joined by -", n, p)
		}
		parts := strings.Split(p, Separator)
		if len(parts) != n {
			t.Errorf("Generate(%d) = %q splits into %d words", n, p, len(parts))
		}
		for _, w := range parts {
			if !inList[w] {
				t.Errorf("Generate(%d) = %q: word %q is not in the wordlist", n, p, w)
			}
		}
	}
}

func TestGenerateRejects(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 3, MaxWords + 1} {
		if p, err := Generate(n); err == nil {
			t.Errorf("Generate(%d) = %q, want error", n, p)
		}
	}
}

func TestGenerateUnique(t *testing.T) {
	seen := make(map[string]bool)
	words := make(map[string]bool)
	for range 100 {
		p, err := Generate(DefaultWords)
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("Generate returned %q twice", p)
		}
		seen[p] = true
		for _, w := range strings.Split(p, Separator) {
			words[w] = true
		}
	}
	// 400 uniform draws from 7772 words repeat about 10 times; far fewer
	// distinct words means the draw is not spread over the list.
	if len(words) < 350 {
		t.Errorf("400 draws gave only %d distinct words", len(words))
	}
}
