package devicecred

import (
	"bufio"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testWorkFactor keeps scrypt cheap (2^10) in every test but one.
const testWorkFactor = 10

const fixturePassphrase = "hazard-sprung-unpaved-quartet" // testdata/p256-key.age

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vectors reads testdata/vectors.txt. Values of names ending in .hex are
// decoded; others are returned as text.
func vectors(t testing.TB) map[string][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "vectors.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v := make(map[string][]byte)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("vectors.txt: malformed line %q", line)
		}
		if strings.HasSuffix(name, ".hex") {
			b, err := hex.DecodeString(value)
			if err != nil {
				t.Fatalf("vectors.txt: %s: %v", name, err)
			}
			v[strings.TrimSuffix(name, ".hex")] = b
		} else {
			v[name] = []byte(value)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return v
}

func mustVector(t testing.TB, v map[string][]byte, name string) []byte {
	t.Helper()
	b, ok := v[name]
	if !ok {
		t.Fatalf("vectors.txt has no %q", name)
	}
	return b
}
