package dotenv

import (
	"bytes"
	"testing"
)

// FuzzParse checks, for any input: ParseAll keeps every byte and its first
// error is Parse's; expansion never panics. For any input Parse accepts:
// Bytes returns the input; entry lines agree with the bytes; writing each
// entry's own value back keeps every name and value; writing an arbitrary
// value into the first entry changes only that entry's value bytes and reads
// back as that value, with expansion too; Set appends a new entry that reads
// back. The seed corpus in testdata/fuzz/FuzzParse runs with every go test.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"\n\n  \n\t\n",
		"# comment\n  # indented\n",
		"A=b\n",
		"export A=b\n",
		"export=1\nexport = 2\nexportA=3\n",
		"  A = b \t\n",
		"a.b-c_D9=x\n",
		"A=\nB=  \nC= # c\n",
		"A=abc#def\nB=abc #c\nC=#x\n",
		"A=b=c\nB=it's \"x\"\nC=a\\nb\n",
		"A='x y'\nB='a\\nb'\nC='#x = y' # c\nD=''\n",
		"A=\"x # y = z\"\nB=\"\"\nC=\"1\\n2\\r3\\t4\\\\5\\\"6\\'7\"\n",
		"A=\"\\x\\$\\0\"\nB=\"a\\\\\"\n",
		"A=\"x\" # c\nB='y'#c\n",
		"A=\"l1\nl2\n\"\nB=1\n",
		"A='-----BEGIN KEY-----\nabc\n-----END KEY-----'\n",
		"A=\"a\\\nb\"\n",
		"CFG={\"a\":1,\"b\":\"x y\"}\nCFG='{\"a\": \"b\"}'\n",
		"A=b\r\nB=\"c\"\r\nC= #x\r\n\r\n# c\r\n",
		"A=\"l1\r\nl2\"\r\nB='x\r\ny'\r\n",
		"A=1\nB=b",
		"A='b'",
		"A=1\n# c",
		"\xEF\xBB\xBFA=b\n",
		"\xEF\xBB\xBF",
		"A=1\nA=2\n",
		"A=\"a\tb\rc\"\n",
		"TOKEN=\"DEV_ENC:AbC-_x+/=\"\n",
		// Compose's dialect and the other tools' constructs.
		"A\nexport B \r\nC",
		"A: 1\nB:c=d\nC :  'x'\n",
		"A=`x $y`\nB=`l1\nl2`\nC=``\n",
		"A=1\rB='x\ry'\r# c\rC",
		"a[1]=c\n456 = ABC\nárvíztűrő-TÜKÖR=x\n",
		"A='Let\\'s go!'\nB=\"\\a\\b\\f\\v\\0123\\$x\"\n",
		"A=$B ${C:-d} $$ ${D:?e} ${E:+${F}}\nB=\"$X \\$Y\"\nC='$Z'\n",
		// Rejected inputs.
		"A B\n",
		"=b\n",
		"A\n=b\n",
		"export =1\n",
		"A='b\\'",
		"A=`b\n",
		"A=\"b\n",
		"A='b\n",
		"A=\"x\"y\n",
		"A=b\rc d\n",
	} {
		for _, v := range []string{"", "new", "DEV_ENC:AbC-_x", " a #b ", "it's \"q\"", "a\nb\r\nc\\", "#x", "'", "pa$$w${x}$y", "`x\\"} {
			f.Add([]byte(seed), v)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte, v string) {
		all, errs := ParseAll(src)
		if got := all.Bytes(); !bytes.Equal(got, src) {
			t.Fatalf("ParseAll: Bytes() = %q, want %q", got, src)
		}
		for _, e := range all.Entries() {
			e.Expand(func(string) (string, bool) { return "x", true }) //nolint:errcheck // must not panic
			e.Expands()
		}
		file, err := Parse(src)
		if (err == nil) != (len(errs) == 0) || err != nil && err.Error() != errs[0].Error() {
			t.Fatalf("Parse error %v, ParseAll errors %v", err, errs)
		}
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("error %v is %T, want *SyntaxError", err, err)
			}
			return
		}
		if got := file.Bytes(); !bytes.Equal(got, src) {
			t.Fatalf("Bytes() = %q, want %q", got, src)
		}
		checkLines(t, file)
		entries := file.Entries()

		// Write every value back as it is.
		same, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range same.Entries() {
			if !e.Inherit { // SetValue turns a bare NAME into NAME=VALUE
				e.SetValue(e.Value)
			}
		}
		checkLines(t, same)
		checkReparse(t, same, entries, -1, "")

		// Write v into the first entry.
		if len(entries) > 0 {
			e := entries[0]
			old := file.Bytes()
			start := 0
			for _, p := range file.parts {
				if p.e == e {
					break
				}
				start += len(p.text) // the parts before the first entry are text
			}
			start += len(e.prefix)
			end := start + len(e.raw)
			eq := ""
			if e.Inherit {
				eq = "=" // a bare NAME line gets its separator
			}
			e.SetValue(v)
			got := file.Bytes()
			want := string(old[:start]) + eq + e.raw + string(old[end:])
			if string(got) != want {
				t.Fatalf("SetValue(%q) on %q gave %q, want %q", v, old, got, want)
			}
			checkLines(t, file)
			checkReparse(t, file, entries, 0, v)
		}

		// Append a new entry.
		n := len(entries)
		if err := file.Set("KEYSMITH_FUZZ_NEW", v); err != nil {
			t.Fatal(err)
		}
		checkLines(t, file)
		g, err := Parse(file.Bytes())
		if err != nil {
			t.Fatalf("re-parse after Set(%q): %v\n%q", v, err, file.Bytes())
		}
		if es := g.Entries(); len(es) != n+1 || es[n].Name != "KEYSMITH_FUZZ_NEW" || es[n].Value != v {
			t.Fatalf("re-parse after Set(%q) of %q: wrong last entry", v, file.Bytes())
		}
	})
}

// checkLines checks that every entry's Line is the line its first byte is on.
func checkLines(t *testing.T, f *File) {
	t.Helper()
	line := 1
	for _, p := range f.parts {
		if p.e == nil {
			line += countLines(p.text)
			continue
		}
		if p.e.Line != line {
			t.Fatalf("entry %s: Line = %d, want %d in %q", p.e.Name, p.e.Line, line, f.Bytes())
		}
		line += countLines(p.e.prefix + p.e.raw + p.e.suffix)
	}
}

// checkReparse parses f's bytes and checks that they hold the names and values
// of want, except that entry i now has value v.
func checkReparse(t *testing.T, f *File, want []*Entry, i int, v string) {
	t.Helper()
	g, err := Parse(f.Bytes())
	if err != nil {
		t.Fatalf("re-parse: %v\n%q", err, f.Bytes())
	}
	got := g.Entries()
	if len(got) != len(want) {
		t.Fatalf("re-parse: %d entries, want %d\n%q", len(got), len(want), f.Bytes())
	}
	for j, e := range got {
		w := want[j].Value
		if j == i {
			w = v
		}
		if e.Name != want[j].Name || e.Value != w || e.Export != want[j].Export || e.Inherit != (want[j].Inherit && j != i) {
			t.Fatalf("re-parse: entry %d = %s=%q, want %s=%q\n%q", j, e.Name, e.Value, want[j].Name, w, f.Bytes())
		}
		if j == i {
			if x, err := e.Expand(func(string) (string, bool) { return "EXPANDED", true }); err != nil || x != v {
				t.Fatalf("re-parse: entry %d expands to %q, %v; want %q\n%q", j, x, err, v, f.Bytes())
			}
		}
		if f.entries[j].Line != e.Line || f.entries[j].Quote != e.Quote {
			t.Fatalf("entry %d: Line %d Quote %q, re-parse says %d %q", j, f.entries[j].Line, f.entries[j].Quote, e.Line, e.Quote)
		}
	}
}
