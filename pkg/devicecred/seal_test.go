package devicecred

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
)

const testPassphrase = "ladder-quantum-ribbon-sermon"

// sealFresh generates a key and seals it at the test work factor.
func sealFresh(t testing.TB) (pemBytes, spki, sealed []byte) {
	return sealFreshWF(t, testWorkFactor)
}

// cheapWorkFactor is for tests that open hundreds of mangled files.
const cheapWorkFactor = 4

func sealFreshWF(t testing.TB, wf int) (pemBytes, spki, sealed []byte) {
	t.Helper()
	priv, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	spki, err = SPKI(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err = PrivatePEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := SealPEM(&buf, pemBytes, testPassphrase, wf); err != nil {
		t.Fatal(err)
	}
	return pemBytes, spki, buf.Bytes()
}

// headerLines returns the age header lines before the "---" MAC line.
func headerLines(t testing.TB, sealed []byte) []string {
	t.Helper()
	hdr, _, ok := bytes.Cut(sealed, []byte("\n--- "))
	if !ok {
		t.Fatalf("no MAC line in sealed file:\n%q", sealed)
	}
	return strings.Split(string(hdr), "\n")
}

func TestSealRoundTrip(t *testing.T) {
	pemBytes, spki, sealed := sealFresh(t)

	if !bytes.HasPrefix(sealed, []byte("age-encryption.org/v1\n-> scrypt ")) {
		t.Fatalf("sealed file does not start with the binary age intro and an scrypt stanza:\n%q", sealed[:min(len(sealed), 64)])
	}
	lines := headerLines(t, sealed)
	var stanzas []string
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "-> ") {
			stanzas = append(stanzas, l)
		}
	}
	if len(stanzas) != 1 {
		t.Fatalf("sealed file has %d stanzas %q, want exactly 1", len(stanzas), stanzas)
	}
	args := strings.Fields(stanzas[0])
	if len(args) != 4 || args[1] != "scrypt" || len(args[2]) != 22 || args[3] != fmt.Sprint(testWorkFactor) {
		t.Errorf("stanza = %q, want \"-> scrypt <22-char salt> %d\"", stanzas[0], testWorkFactor)
	}
	// Intro, stanza line, one body line of 43 characters.
	if len(lines) != 3 || len(lines[2]) != 43 {
		t.Errorf("header lines = %q, want intro, stanza and one 43-character body line", lines)
	}

	got, err := RevealPEM(bytes.NewReader(sealed), testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pemBytes) {
		t.Errorf("RevealPEM =\n%s\nwant\n%s", got, pemBytes)
	}
	priv, err := ParsePrivatePEM(got)
	if err != nil {
		t.Fatal(err)
	}
	spki2, err := SPKI(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(spki2, spki) {
		t.Errorf("revealed key SPKI = %x, want %x", spki2, spki)
	}

	// Sealing is randomized: the same key and passphrase seal differently.
	var again bytes.Buffer
	if err := SealPEM(&again, pemBytes, testPassphrase, testWorkFactor); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again.Bytes(), sealed) {
		t.Error("two seals of the same key are identical")
	}
}

// TestSealDefaultWorkFactor runs the real work factor once. It takes about a
// second and 256 MiB for each of seal and reveal.
func TestSealDefaultWorkFactor(t *testing.T) {
	if testing.Short() {
		t.Skip("scrypt at work factor 18 is slow; skipped with -short")
	}
	priv, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := PrivatePEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	start := time.Now()
	if err := SealPEM(&buf, pemBytes, testPassphrase, DefaultWorkFactor); err != nil {
		t.Fatal(err)
	}
	t.Logf("SealPEM at work factor %d took %v", DefaultWorkFactor, time.Since(start))
	if !bytes.Contains(buf.Bytes(), []byte(" 18\n")) {
		t.Errorf("stanza does not record work factor 18: %q", headerLines(t, buf.Bytes()))
	}
	start = time.Now()
	got, err := RevealPEM(bytes.NewReader(buf.Bytes()), testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("RevealPEM at work factor %d took %v", DefaultWorkFactor, time.Since(start))
	if !bytes.Equal(got, pemBytes) {
		t.Error("round trip at the default work factor changed the key")
	}
}

func TestRevealAgeCLIFixture(t *testing.T) {
	// Sealed by the age v1.3.2 CLI, not by this package (testdata/README.md).
	got, err := RevealPEM(bytes.NewReader(readFixture(t, "p256-key.age")), fixturePassphrase)
	if err != nil {
		t.Fatal(err)
	}
	if want := readFixture(t, "p256-key.pem"); !bytes.Equal(got, want) {
		t.Errorf("RevealPEM(p256-key.age) =\n%s\nwant\n%s", got, want)
	}
}

func TestRevealWrongPassphrase(t *testing.T) {
	_, _, sealed := sealFresh(t)
	for _, p := range []string{"ladder-quantum-ribbon-sermoN", "ladder-quantum-ribbon", "x"} {
		_, err := RevealPEM(bytes.NewReader(sealed), p)
		if !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("RevealPEM with passphrase %q: error = %v, want ErrWrongPassphrase", p, err)
		}
	}
	if _, err := RevealPEM(bytes.NewReader(sealed), ""); err == nil {
		t.Error("RevealPEM with empty passphrase succeeded")
	}
}

func TestRevealTruncated(t *testing.T) {
	_, _, sealed := sealFreshWF(t, cheapWorkFactor)
	for n := range len(sealed) {
		_, err := RevealPEM(bytes.NewReader(sealed[:n]), testPassphrase)
		if !errors.Is(err, ErrCorrupted) && !errors.Is(err, ErrNotAgeFile) {
			t.Fatalf("RevealPEM(first %d of %d bytes): error = %v, want ErrCorrupted or ErrNotAgeFile", n, len(sealed), err)
		}
	}
	_, err := RevealPEM(bytes.NewReader(append(append([]byte{}, sealed...), 0)), testPassphrase)
	if !errors.Is(err, ErrCorrupted) {
		t.Errorf("RevealPEM(file + 1 byte): error = %v, want ErrCorrupted", err)
	}
}

func TestRevealTampered(t *testing.T) {
	_, _, sealed := sealFreshWF(t, cheapWorkFactor)
	counts := map[string]int{}
	for i := range sealed {
		for _, bit := range []byte{0x01, 0x80} {
			bad := append([]byte{}, sealed...)
			bad[i] ^= bit
			_, err := RevealPEM(bytes.NewReader(bad), testPassphrase)
			switch {
			case err == nil:
				t.Fatalf("RevealPEM succeeded with byte %d ^ %#x", i, bit)
			case errors.Is(err, ErrCorrupted):
				counts["corrupted"]++
			case errors.Is(err, ErrWrongPassphrase):
				counts["wrong passphrase"]++
			case errors.Is(err, ErrNotAgeFile):
				counts["not age"]++
			default:
				t.Fatalf("RevealPEM with byte %d ^ %#x: error %v wraps no sentinel", i, bit, err)
			}
		}
	}
	t.Logf("outcomes of %d bit flips: %v", 2*len(sealed), counts)
	// Flips in the intro are "not age", in the salt "wrong passphrase", in
	// the MAC and payload "corrupted": all three must occur.
	if len(counts) != 3 {
		t.Errorf("outcomes %v, want all of corrupted, wrong passphrase, not age", counts)
	}
}

func TestRevealNotSealedKey(t *testing.T) {
	_, _, sealed := sealFresh(t)

	var armored bytes.Buffer
	aw := armor.NewWriter(&armored)
	aw.Write(sealed)
	aw.Close()

	x, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	var x25519File bytes.Buffer
	w, err := age.Encrypt(&x25519File, x.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	w.Write(readFixture(t, "p256-key.pem"))
	w.Close()

	tests := []struct {
		name string
		in   []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrNotAgeFile, "does not start with"},
		{"pem", readFixture(t, "p256-key.pem"), ErrNotAgeFile, "does not start with"},
		{"armored", armored.Bytes(), ErrNotAgeFile, "armored"},
		{"x25519 recipient", x25519File.Bytes(), ErrNotAgeFile, `want exactly one "scrypt"`},
		{"too large", append(append([]byte{}, sealed...), make([]byte, MaxSealedSize)...), ErrNotAgeFile, "larger than"},
		{"work factor 23", bytes.Replace(sealed, []byte(" 10\n"), []byte(" 23\n"), 1), ErrCorrupted, "work factor 23 is above the maximum 22"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RevealPEM(bytes.NewReader(tt.in), testPassphrase)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return 0, errors.New("disk full")
}

func TestSealRejects(t *testing.T) {
	good := readFixture(t, "p256-key.pem")
	tests := []struct {
		name       string
		pem        []byte
		passphrase string
		wf         int
		msg        string
	}{
		{"work factor 0", good, testPassphrase, 0, "out of range"},
		{"work factor 23", good, testPassphrase, 23, "out of range"},
		{"empty passphrase", good, "", testWorkFactor, "passphrase is empty"},
		{"not a key", []byte("hello"), testPassphrase, testWorkFactor, "refusing to seal"},
		{"public key", readFixture(t, "p256-pub.pem"), testPassphrase, testWorkFactor, "refusing to seal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := SealPEM(&buf, tt.pem, tt.passphrase, tt.wf)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error = %v, want one mentioning %q", err, tt.msg)
			}
			if buf.Len() != 0 {
				t.Errorf("SealPEM wrote %d bytes despite failing", buf.Len())
			}
		})
	}
	// A failing writer sees one write of the whole file, not a partial header.
	fw := &failWriter{}
	if err := SealPEM(fw, good, testPassphrase, testWorkFactor); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("SealPEM to a failing writer: error = %v", err)
	}
}
