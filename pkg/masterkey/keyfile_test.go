package masterkey

import (
	"errors"
	"strings"
	"testing"
)

const (
	k1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	k2 = "//////////////////////////////////////////8="
	k3 = "0101010101010101010101010101010101010101010101010101010101010101"
)

func TestParseFile(t *testing.T) {
	src := "# keys\n\ndev = " + k1 + "\nprod=" + k3 + "  \ndev.retired = " + k2 + "   # old dev key, 2026-01\n"
	f, err := ParseFile([]byte(src), "keys")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(f.Bytes()); got != src {
		t.Fatalf("round trip:\n%q\n%q", got, src)
	}
	dev, ok := f.Current("dev")
	if !ok || dev.Text() != k1 {
		t.Fatal("dev key")
	}
	if r := f.Retired("dev"); len(r) != 1 || r[0].Text() != k2 {
		t.Fatalf("retired = %v", r)
	}
	if _, ok := f.Current("int"); ok {
		t.Fatal("int should have no key")
	}
	if n := len(f.Entries()); n != 3 {
		t.Fatalf("%d entries", n)
	}
}

func TestParseFileErrors(t *testing.T) {
	cases := []struct {
		src, want string
		line      int
	}{
		{"dev " + k1, "environment name is not valid", 1},
		{"dev " + k3, `expected "env = <key>"`, 1},
		{"# c\nDev = " + k1, "environment name is not valid", 2},
		{"dev = " + k1[:20], "dev: key decodes to 15 bytes, want 32", 1},
		{"dev = " + k1 + "\ndev = " + k2, `duplicate environment "dev" (first on line 1)`, 2},
		{"dev = " + k1 + "\nint = " + k1, "is already on line 1", 2},
		{"dev = ", "dev: key is empty", 1},
	}
	for _, c := range cases {
		_, err := ParseFile([]byte(c.src), "/x/keys")
		var le *LineError
		if !errors.As(err, &le) || !errors.Is(err, ErrKeyFile) {
			t.Fatalf("%q: err = %v", c.src, err)
		}
		if le.Line != c.line || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), `key file "/x/keys", line `) {
			t.Errorf("%q: got %q (line %d), want %q on line %d", c.src, err, le.Line, c.want, c.line)
		}
		for _, k := range []string{k1, k2, k1[:20]} {
			if strings.Contains(err.Error(), k) {
				t.Errorf("error echoes key: %v", err)
			}
		}
	}
}

func TestAddRotateRemove(t *testing.T) {
	f, _ := ParseFile([]byte("# mine\r\ndev = "+k1+"\r\n"), "keys")
	// k1 is kept as written, not re-encoded: the legacy KDF may use the text.
	a, _ := Parse(k1)
	b, _ := Parse(k2)
	c, _ := Parse(k3)
	if err := f.Add("dev", b); err == nil {
		t.Fatal("Add over an existing key")
	}
	if err := f.Add("prod", c); err != nil {
		t.Fatal(err)
	}
	old, err := f.Rotate("dev", b)
	if err != nil || !old.Equal(a) {
		t.Fatalf("Rotate: %v", err)
	}
	want := "# mine\r\ndev.retired = " + k1 + "\r\nprod = " + k3 + "\r\ndev = " + b.Encode() + "\r\n" // Add keeps the text
	if got := string(f.Bytes()); got != want {
		t.Fatalf("after rotate:\n%q\nwant\n%q", got, want)
	}
	re, err := ParseFile(f.Bytes(), "keys")
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := re.Current("dev"); !cur.Equal(b) {
		t.Fatal("current after rotate")
	}
	if err := f.Remove("dev", b.ID()); err == nil {
		t.Fatal("removed the current key")
	}
	if err := f.Remove("dev", a.ID()); err != nil {
		t.Fatal(err)
	}
	if len(f.Retired("dev")) != 0 {
		t.Fatal("retired key still there")
	}
	if err := f.Remove("dev", a.ID()); err == nil {
		t.Fatal("removed twice")
	}
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte("dev = " + k1 + "\n"))
	f.Add([]byte("# c\n\nprod=" + k3 + "\r\nprod.retired = " + k2))
	f.Add([]byte("dev = " + k1 + "\ndev = " + k2))
	f.Add([]byte("x"))
	f.Add([]byte("dev.retired.retired = " + k1))
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := ParseFile(data, "fuzz")
		if err != nil {
			if !errors.Is(err, ErrKeyFile) {
				t.Fatalf("error %v is not ErrKeyFile", err)
			}
			return
		}
		// What parses re-parses to the same entries.
		again, err := ParseFile(kf.Bytes(), "fuzz")
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		a, b := kf.Entries(), again.Entries()
		if len(a) != len(b) {
			t.Fatalf("%d entries, then %d", len(a), len(b))
		}
		for i := range a {
			if a[i].Env != b[i].Env || !a[i].Key.Equal(b[i].Key) || a[i].Retired != b[i].Retired {
				t.Fatalf("entry %d changed", i)
			}
			if !ValidEnv(a[i].Env) {
				t.Fatalf("invalid env %q accepted", a[i].Env)
			}
		}
	})
}

// TestRotateKeepsKeyText: a key written as hex stays hex when retired, so a
// legacy kdf_input of "text" derives the same Fernet key after rotation.
func TestRotateKeepsKeyText(t *testing.T) {
	f, _ := ParseFile([]byte("prod = "+k3+"\n"), "keys")
	nk, _ := Parse(k2)
	if _, err := f.Rotate("prod", nk); err != nil {
		t.Fatal(err)
	}
	if want := "prod.retired = " + k3 + "\nprod = " + nk.Encode() + "\n"; string(f.Bytes()) != want {
		t.Fatalf("got %q, want %q", f.Bytes(), want)
	}
}

// Single-key files as secret stores and tools write them; the openssl case is
// the exact output of "openssl enc -aes-256-cbc -k secret -P -md sha1".
func TestParseSingle(t *testing.T) {
	want := mustParse(t, k3)
	upper := strings.ToUpper("2d1cca98c6e5d789079fe6a8c2c66aa8dfcedad52687c3a7161a81cf04a71bbc")
	for _, tc := range []struct {
		name, text, form string
		key              string // "" when the key is want
	}{
		{"agent", `{"key": "` + k3 + `"}`, "JSON", ""},
		{"kv2", `{"data": {"key": "` + k3 + `"}}`, "JSON", ""},
		{"kv2 response", `{"request_id": "x", "data": {"data": {"key": "` + k3 + `"}, "metadata": {"version": 3}}}`, "JSON", ""},
		{"openssl", "salt=B9AB0096AD5BEEE1\nkey=" + upper + "\niv =A46A3219C0280B0151EBF83822C3C662\n", "openssl -P output", upper},
		{"bare", k3 + "\n", "a bare key", ""},
		{"bom", "\uFEFF" + k3 + "\n", "a bare key", ""},
	} {
		f, err := ParseFile([]byte(tc.text), "f")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		k, form, ok := f.Single()
		w := want
		if tc.key != "" {
			w = mustParse(t, tc.key)
		}
		if !ok || form != tc.form || !k.Equal(w) {
			t.Errorf("%s: Single = %v %q %v", tc.name, k, form, ok)
		}
		if cur, ok := f.Current("prod"); !ok || !cur.Equal(w) {
			t.Errorf("%s: Current(prod) = %v", tc.name, cur)
		}
		if err := f.Add("int", want); !errors.As(err, new(*SingleKeyError)) {
			t.Errorf("%s: Add = %v", tc.name, err)
		}
	}
	for _, text := range []string{`{"value": "x"}`, `{"key": 1}`, `{"data": "` + k3 + `"}`, `{"key": "short"}`} {
		_, err := ParseFile([]byte(text), "f")
		if !errors.Is(err, ErrKeyFile) || strings.Contains(err.Error(), k3) {
			t.Errorf("%s: err = %v", text, err)
		}
	}
	// key files stay key files: a line for an environment named "key" is not openssl output
	f, err := ParseFile([]byte("key = "+k3+"\n"), "f")
	if _, _, single := f.Single(); err != nil || single {
		t.Errorf("key = ...: %v %v", err, single)
	}
	f, err = ParseFile([]byte("\uFEFFdev = "+k1+"\n"), "f")
	if k, ok := f.Current("dev"); err != nil || !ok || k.Text() != k1 {
		t.Errorf("BOM key file: %v", err)
	}
}

func mustParse(t *testing.T, s string) Key {
	t.Helper()
	k, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
