package dotenv_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/pkg/dotenv"
)

// want is the decoded view of one entry.
type want struct {
	Name   string
	Value  string
	Line   int
	Export bool
	Quote  byte
}

func (w want) String() string {
	return fmt.Sprintf("{%s %q line %d export %v quote %q}", w.Name, w.Value, w.Line, w.Export, w.Quote)
}

func entries(f *dotenv.File) []want {
	var got []want
	for _, e := range f.Entries() {
		got = append(got, want{e.Name, e.Value, e.Line, e.Export, e.Quote})
	}
	return got
}

func checkEntries(t *testing.T, f *dotenv.File, ws []want) {
	t.Helper()
	got := entries(f)
	if len(got) != len(ws) {
		t.Fatalf("got %d entries %v, want %d %v", len(got), got, len(ws), ws)
	}
	for i := range ws {
		if got[i] != ws[i] {
			t.Errorf("entry %d = %v, want %v", i, got[i], ws[i])
		}
	}
}

var parseTests = []struct {
	name string
	in   string
	want []want
}{
	{"empty file", "", nil},
	{"blank lines", "\n\n  \n\t\n", nil},
	{"full-line comments", "# one\n  # two\n#\n", nil},
	{"simple", "A=b\n", []want{{"A", "b", 1, false, 0}}},
	{"order and lines", "# c\nA=1\n\nB=2\n", []want{{"A", "1", 2, false, 0}, {"B", "2", 4, false, 0}}},
	{"export", "export A=b\n", []want{{"A", "b", 1, true, 0}}},
	{"export with blanks", "export \t A=b\n", []want{{"A", "b", 1, true, 0}}},
	{"name export", "export=1\n", []want{{"export", "1", 1, false, 0}}},
	{"name starting with export", "exportA=1\n", []want{{"exportA", "1", 1, false, 0}}},
	{"indented", "  \tA=b\n", []want{{"A", "b", 1, false, 0}}},
	{"name characters", "a.b-c_D9=x\n_=y\n", []want{{"a.b-c_D9", "x", 1, false, 0}, {"_", "y", 2, false, 0}}},
	{"blanks around equals", "A = b\nB\t=\tc\n", []want{{"A", "b", 1, false, 0}, {"B", "c", 2, false, 0}}},
	{"unquoted inner spaces", "A=hello  world\n", []want{{"A", "hello  world", 1, false, 0}}},
	{"unquoted trailing blanks", "A=b \t\n", []want{{"A", "b", 1, false, 0}}},
	{"empty", "A=\n", []want{{"A", "", 1, false, 0}}},
	{"empty with blanks", "A=  \n", []want{{"A", "", 1, false, 0}}},
	{"empty with comment", "A= # c\n", []want{{"A", "", 1, false, 0}}},
	{"hash inside unquoted", "A=abc#def\n", []want{{"A", "abc#def", 1, false, 0}}},
	{"hash first in unquoted", "A=#def\n", []want{{"A", "#def", 1, false, 0}}},
	{"trailing comment", "A=abc #c\n", []want{{"A", "abc", 1, false, 0}}},
	{"trailing comment after tab", "A=abc\t# c # d\n", []want{{"A", "abc", 1, false, 0}}},
	{"equals in unquoted", "A=b=c==\n", []want{{"A", "b=c==", 1, false, 0}}},
	{"quotes inside unquoted", "A=it's \"x\"\n", []want{{"A", `it's "x"`, 1, false, 0}}},
	{"backslash unquoted", `A=a\nb` + "\n", []want{{"A", `a\nb`, 1, false, 0}}},
	{"single quoted", "A='x y'\n", []want{{"A", "x y", 1, false, '\''}}},
	{"single quoted no escapes", `A='a\nb\x\\y'` + "\n", []want{{"A", `a\nb\x\\y`, 1, false, '\''}}},
	{"single quoted escaped quote", `A='Let\'s go!'` + "\n", []want{{"A", "Let's go!", 1, false, '\''}}},
	{"single quoted hash and equals", "A='#x = y' # c\n", []want{{"A", "#x = y", 1, false, '\''}}},
	{"single quoted double quote", `A='say "hi"'` + "\n", []want{{"A", `say "hi"`, 1, false, '\''}}},
	{"single quoted empty", "A=''\n", []want{{"A", "", 1, false, '\''}}},
	{"single quoted blanks kept", "A='  x  '\n", []want{{"A", "  x  ", 1, false, '\''}}},
	{"double quoted", `A="x # y = z"` + "\n", []want{{"A", "x # y = z", 1, false, '"'}}},
	{"double quoted empty", `A=""` + "\n", []want{{"A", "", 1, false, '"'}}},
	{"double quoted escapes", `A="1\n2\r3\t4\\5\"6\$7\a\b\f\v"` + "\n", []want{{"A", "1\n2\r3\t4\\5\"6$7\a\b\f\v", 1, false, '"'}}},
	{"double quoted octal", `A="\0123\0000\0377\0400\01\0"` + "\n", []want{{"A", "S\x00\xff\\0400\\01\\0", 1, false, '"'}}},
	{"double quoted unknown escapes", `A="\x07\'\u00e9\ b"` + "\n", []want{{"A", `\x07\'\u00e9\ b`, 1, false, '"'}}},
	{"double quoted escaped backslash then quote", `A="a\\"` + "\n", []want{{"A", `a\`, 1, false, '"'}}},
	{"double quoted apostrophe", `A="it's"` + "\n", []want{{"A", "it's", 1, false, '"'}}},
	{"double quoted raw tab and CR", "A=\"a\tb\rc\"\n", []want{{"A", "a\tb\rc", 1, false, '"'}}},
	{"comment after quote", "A=\"x\" # c\nB='y'#c\n", []want{{"A", "x", 1, false, '"'}, {"B", "y", 2, false, '\''}}},
	{"blanks after quote", "A=\"x\" \t\n", []want{{"A", "x", 1, false, '"'}}},
	{"multi-line double", "A=\"l1\nl2\n\"\nB=1\n", []want{{"A", "l1\nl2\n", 1, false, '"'}, {"B", "1", 4, false, 0}}},
	{"multi-line single", "A='-----BEGIN KEY-----\nabc\n-----END KEY-----'\nB=1\n",
		[]want{{"A", "-----BEGIN KEY-----\nabc\n-----END KEY-----", 1, false, '\''}, {"B", "1", 4, false, 0}}},
	{"backslash newline kept", "A=\"a\\\nb\"\n", []want{{"A", "a\\\nb", 1, false, '"'}}},
	{"json unquoted", `CFG={"a":1,"b":"x y"}` + "\n", []want{{"CFG", `{"a":1,"b":"x y"}`, 1, false, 0}}},
	{"json single quoted", `CFG='{"a": "b"}'` + "\n", []want{{"CFG", `{"a": "b"}`, 1, false, '\''}}},
	{"json double quoted", `CFG="{\"a\": \"b\\n\"}"` + "\n", []want{{"CFG", `{"a": "b\n"}`, 1, false, '"'}}},
	{"crlf", "A=b\r\nB=\"c\"\r\nC= #x\r\n\r\n# c\r\nD=d \r\n",
		[]want{{"A", "b", 1, false, 0}, {"B", "c", 2, false, '"'}, {"C", "", 3, false, 0}, {"D", "d", 6, false, 0}}},
	{"crlf inside quotes", "A=\"l1\r\nl2\"\r\nB='x\r\ny'\r\n",
		[]want{{"A", "l1\nl2", 1, false, '"'}, {"B", "x\ny", 3, false, '\''}}},
	{"no final newline", "A=1\nB=b", []want{{"A", "1", 1, false, 0}, {"B", "b", 2, false, 0}}},
	{"no final newline quoted", "A='b'", []want{{"A", "b", 1, false, '\''}}},
	{"no final newline comment", "A=1\n# c", []want{{"A", "1", 1, false, 0}}},
	{"bom", "\xEF\xBB\xBFA=b\n", []want{{"A", "b", 1, false, 0}}},
	{"bom then comment", "\xEF\xBB\xBF# c\nA=b\n", []want{{"A", "b", 2, false, 0}}},
	{"bom only", "\xEF\xBB\xBF", nil},
	{"bom inside value", "A=x\xEF\xBB\xBF\n", []want{{"A", "x\xEF\xBB\xBF", 1, false, 0}}},
	{"duplicates", "A=1\nA=2\n", []want{{"A", "1", 1, false, 0}, {"A", "2", 2, false, 0}}},
	{"utf-8 value", "A=héllo wörld ✓\n", []want{{"A", "héllo wörld ✓", 1, false, 0}}},
	{"ciphertext", `TOKEN="DEV_ENC:AbC-_x+/="` + "\n", []want{{"TOKEN", "DEV_ENC:AbC-_x+/=", 1, false, '"'}}},
	{"colon separator", "A: 1\nB:c=d\nC :  'x'\n", []want{{"A", "1", 1, false, 0}, {"B", "c=d", 2, false, 0}, {"C", "x", 3, false, '\''}}},
	{"colon in value", "A=1:B\n", []want{{"A", "1:B", 1, false, 0}}},
	{"backticks", "A=`it's \"x\" $HOME \\n`\nB=``\nC=`a #b` # c\n", []want{{"A", `it's "x" $HOME \n`, 1, false, '`'}, {"B", "", 2, false, '`'}, {"C", "a #b", 3, false, '`'}}},
	{"multi-line backticks", "A=`l1\r\nl2`\r\nB=1\r\n", []want{{"A", "l1\nl2", 1, false, '`'}, {"B", "1", 3, false, 0}}},
	{"CR-only lines", "A=1\rB='x'\r# c\rC=3", []want{{"A", "1", 1, false, 0}, {"B", "x", 2, false, '\''}, {"C", "3", 4, false, 0}}},
	{"CR-only inside quotes", "A='x\ry'\rB=2\r", []want{{"A", "x\ry", 1, false, '\''}, {"B", "2", 3, false, 0}}},
	{"name characters compose", "a[1]=c\n456 = ABC\nárvíztűrő-TÜKÖR=x\nVAR-WITH.DOTS=y\n", []want{{"a[1]", "c", 1, false, 0}, {"456", "ABC", 2, false, 0}, {"árvíztűrő-TÜKÖR", "x", 3, false, 0}, {"VAR-WITH.DOTS", "y", 4, false, 0}}},
	{"export prefix before name", "export\tA=1\nexport_B=2\n", []want{{"A", "1", 1, true, 0}, {"export_B", "2", 2, false, 0}}},
	{"dollar kept in Value", "A=$B ${C:-d} $$\nB=\"\\$x $y\"\n", []want{{"A", "$B ${C:-d} $$", 1, false, 0}, {"B", "$x $y", 2, false, '"'}}},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := dotenv.Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			checkEntries(t, f, tt.want)
			if got := string(f.Bytes()); got != tt.in {
				t.Errorf("Bytes() = %q, want %q", got, tt.in)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	f, err := dotenv.Parse([]byte("A=1\nB=2\nA=3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e := f.Lookup("A"); e == nil || e.Value != "3" || e.Line != 3 {
		t.Errorf("Lookup(A) = %+v, want the entry on line 3 with value 3", e)
	}
	if e := f.Lookup("B"); e == nil || e.Value != "2" {
		t.Errorf("Lookup(B) = %+v, want value 2", e)
	}
	if e := f.Lookup("C"); e != nil {
		t.Errorf("Lookup(C) = %+v, want nil", e)
	}
}

// TestRoundTrip checks byte equality on a realistic file mixing every feature.
func TestRoundTrip(t *testing.T) {
	in := "\xEF\xBB\xBF# keysmith test file\r\n" +
		"\r\n" +
		"export DATABASE_URL=\"postgres://u:p@h:5432/db?sslmode=require\" # primary\r\n" +
		"  API_KEY = DEV_ENC:AbC-_x  \r\n" +
		"CFG={\"a\":1,\"b\":\"x y\"}\r\n" +
		"PEM='-----BEGIN KEY-----\r\nMIIB\r\n-----END KEY-----'\r\n" +
		"MSG=\"line1\\nline2\\t\\\"q\\\"\\x\"\r\n" +
		"EMPTY=\r\n" +
		"HASH=abc#def #comment\r\n" +
		"dup=1\r\n" +
		"dup=2"
	f, err := dotenv.Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(f.Bytes()); got != in {
		t.Fatalf("Bytes() = %q, want %q", got, in)
	}
	if n := len(f.Entries()); n != 9 {
		t.Errorf("got %d entries, want 9", n)
	}
}

var setValueTests = []struct {
	name  string
	in    string
	key   string
	value string
	out   string
}{
	{"unquoted", "A=old\nB=2\n", "A", "new", "A=new\nB=2\n"},
	{"keeps everything else", "# c\nexport  A = old  # note\r\nB=2\r\n", "A", "new", "# c\nexport  A = new  # note\r\nB=2\r\n"},
	{"ciphertext stays double quoted", `A="plain text"` + "\n", "A", "DEV_ENC:AbC-_x", `A="DEV_ENC:AbC-_x"` + "\n"},
	{"ciphertext stays single quoted", "A='plain text' # c\n", "A", "DEV_ENC:AbC-_x", "A='DEV_ENC:AbC-_x' # c\n"},
	{"ciphertext stays unquoted", "A=plain\n", "A", "DEV_ENC:AbC-_x", "A=DEV_ENC:AbC-_x\n"},
	{"unquoted inner space stays unquoted", "A=x\n", "A", "a b", "A=a b\n"},
	{"unquoted to double for leading blank", "A=x\n", "A", " a", "A=\" a\"\n"},
	{"unquoted to double for trailing blank", "A=x\n", "A", "a\t", "A=\"a\t\"\n"},
	{"unquoted to double for comment", "A=x #c\n", "A", "a #b", "A=\"a #b\" #c\n"},
	{"unquoted hash without blank", "A=x\n", "A", "a#b", "A=a#b\n"},
	{"unquoted to double for leading hash", "A=x\n", "A", "#a", "A=\"#a\"\n"},
	{"unquoted to double for leading quote", "A=x\n", "A", `"q"`, `A="\"q\""` + "\n"},
	{"unquoted to double for leading apostrophe", "A=x\n", "A", `'q'`, `A="'q'"` + "\n"},
	{"unquoted to double for newline", "A=x\n", "A", "a\nb", `A="a\nb"` + "\n"},
	{"unquoted to double for CR", "A=x\n", "A", "a\rb", `A="a\rb"` + "\n"},
	{"unquoted backslash stays", "A=x\n", "A", `a\nb`, `A=a\nb` + "\n"},
	{"unquoted to empty", "A=x #c\n", "A", "", "A= #c\n"},
	{"empty to unquoted before comment", "A= #c\n", "A", "x", "A=x #c\n"},
	{"empty to unquoted blanks around equals", "A = \n", "A", "x", "A =x \n"},
	{"double escapes", `A="x"` + "\n", "A", "a\\b\"c'd\te\r", `A="a\\b\"c'd` + "\t" + `e\r"` + "\n"},
	{"double single-line newline escaped", `A="x"` + "\n", "A", "a\nb", `A="a\nb"` + "\n"},
	{"double multi-line newline raw", "A=\"l1\nl2\"\nB=1\n", "A", "x\ny\nz", "A=\"x\ny\nz\"\nB=1\n"},
	{"double multi-line crlf", "A=\"l1\r\nl2\"\r\n", "A", "a\nb\r\nc", "A=\"a\r\nb\\r\r\nc\"\r\n"},
	{"single keeps apostrophe-free", "A='x'\n", "A", `a"b\n`, `A='a"b\n'` + "\n"},
	{"single to double for apostrophe", "A='x'\n", "A", "it's", `A="it's"` + "\n"},
	{"single to double for CR", "A='x'\n", "A", "a\rb", `A="a\rb"` + "\n"},
	{"single single-line to double for newline", "A='x'\n", "A", "a\nb", `A="a\nb"` + "\n"},
	{"single multi-line keeps raw newline", "A='x\r\ny'\r\n", "A", "a\nb", "A='a\r\nb'\r\n"},
	{"no final newline", "B=1\nA=old", "A", "new", "B=1\nA=new"},
	{"quoted no final newline", "A=\"old\"", "A", "n e w", "A=\"n e w\""},
	{"last duplicate", "A=1\nA=2\n", "A", "3", "A=1\nA=3\n"},
	{"export kept", "export A='1'\n", "A", "2", "export A='2'\n"},
	{"bom kept", "\xEF\xBB\xBFA=1\n", "A", "2", "\xEF\xBB\xBFA=2\n"},
	{"json", "CFG='{}'\n", "CFG", `{"a": "b"}`, `CFG='{"a": "b"}'` + "\n"},
	{"json unquoted", "CFG={}\n", "CFG", `{"a":1,"b":"x y"}`, `CFG={"a":1,"b":"x y"}` + "\n"},
	{"dollar unquoted", "A=old\n", "A", "pa$$word", `A="pa\$\$word"` + "\n"},
	{"dollar brace unquoted", "A=old\n", "A", "${X}", `A="\${X}"` + "\n"},
	{"lone dollar unquoted", "A=old\n", "A", "5$ $1", "A=5$ $1\n"},
	{"dollar double", "A=\"old\"\n", "A", "$HOME", `A="\$HOME"` + "\n"},
	{"dollar single", "A='old'\n", "A", "$HOME", "A='$HOME'\n"},
	{"single trailing backslash", "A='old'\n", "A", `x\`, `A="x\\"` + "\n"},
	{"backtick kept", "A=`old`\n", "A", `it's "$x"`, "A=`it's \"$x\"`\n"},
	{"backtick with backtick", "A=`old`\n", "A", "a`b", "A=\"a`b\"\n"},
	{"colon kept", "A: old # c\n", "A", "new", "A: new # c\n"},
	{"inherited", "A\nB=1\n", "A", "v", "A=v\nB=1\n"},
	{"inherited export blanks", "export A  \r\n", "A", "v w", "export A=v w  \r\n"},
	{"CR-only file", "A=1\rB=2\r", "A", "x\ny", "A=\"x\\ny\"\rB=2\r"},
}

func TestSetValue(t *testing.T) {
	for _, tt := range setValueTests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := dotenv.Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			before := entries(f)
			e := f.Lookup(tt.key)
			e.SetValue(tt.value)
			if got := string(f.Bytes()); got != tt.out {
				t.Errorf("Bytes() = %q, want %q", got, tt.out)
			}
			if e.Value != tt.value {
				t.Errorf("Value = %q, want %q", e.Value, tt.value)
			}
			checkReparse(t, f, before, e, tt.value)
		})
	}
}

// checkReparse parses f's bytes again and checks that the entries are
// before, except for changed, which now has value v, and that f's own view of
// its entries (lines included) agrees with the re-parse.
func checkReparse(t *testing.T, f *dotenv.File, before []want, changed *dotenv.Entry, v string) {
	t.Helper()
	g, err := dotenv.Parse(f.Bytes())
	if err != nil {
		t.Fatalf("re-parse: %v", err)
	}
	after := entries(g)
	if len(after) != len(before) {
		t.Fatalf("re-parse: got %d entries, want %d", len(after), len(before))
	}
	for i, e := range f.Entries() {
		b, a := before[i], after[i]
		if e == changed {
			b.Value = v
		}
		if a.Name != b.Name || a.Value != b.Value || a.Export != b.Export {
			t.Errorf("re-parse: entry %d = %v, want %v", i, a, b)
		}
		if e.Line != a.Line || e.Quote != a.Quote {
			t.Errorf("entry %d: line %d quote %q, re-parse says line %d quote %q", i, e.Line, e.Quote, a.Line, a.Quote)
		}
		if e == changed {
			// A written value reads back literally, with expansion too.
			x, err := g.Entries()[i].Expand(func(string) (string, bool) { return "EXPANDED", true })
			if err != nil || x != v {
				t.Errorf("entry %d expands to %q, %v; want %q", i, x, err, v)
			}
		}
	}
}

func TestSetValueLines(t *testing.T) {
	f, err := dotenv.Parse([]byte("A=\"1\n2\"\nB=1\nC='x\ny'\nD=2\n"))
	if err != nil {
		t.Fatal(err)
	}
	f.Lookup("A").SetValue("1\n2\n3\n4")
	f.Lookup("C").SetValue("z")
	want := "A=\"1\n2\n3\n4\"\nB=1\nC='z'\nD=2\n"
	if got := string(f.Bytes()); got != want {
		t.Fatalf("Bytes() = %q, want %q", got, want)
	}
	for name, line := range map[string]int{"A": 1, "B": 5, "C": 6, "D": 7} {
		if got := f.Lookup(name).Line; got != line {
			t.Errorf("%s.Line = %d, want %d", name, got, line)
		}
	}
}

var setTests = []struct {
	name  string
	in    string
	key   string
	value string
	out   string
	line  int
}{
	{"existing", "A=1\nB=2\n", "A", "x", "A=x\nB=2\n", 1},
	{"existing duplicate", "A=1\nA=2\n", "A", "x", "A=1\nA=x\n", 2},
	{"append", "A=1\n", "B", "x", "A=1\nB=x\n", 2},
	{"append to empty", "", "B", "x", "B=x\n", 1},
	{"append to bom only", "\xEF\xBB\xBF", "B", "x", "\xEF\xBB\xBFB=x\n", 1},
	{"append after missing newline", "A=1", "B", "x", "A=1\nB=x\n", 2},
	{"append after comment missing newline", "A=1\n# c", "B", "x", "A=1\n# c\nB=x\n", 3},
	{"append crlf", "A=1\r\n", "B", "x", "A=1\r\nB=x\r\n", 2},
	{"append crlf missing newline", "A=1\r\nC=2", "B", "x", "A=1\r\nC=2\r\nB=x\r\n", 3},
	{"append after multi-line", "A='1\n2'", "B", "x", "A='1\n2'\nB=x\n", 3},
	{"append quoted", "A=1\n", "B", "x #y", "A=1\nB=\"x #y\"\n", 2},
	{"append multi-line value", "A=1\n", "B", "x\ny", "A=1\nB=\"x\\ny\"\n", 2},
	{"append empty", "A=1\n", "B", "", "A=1\nB=\n", 2},
}

func TestSet(t *testing.T) {
	for _, tt := range setTests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := dotenv.Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Set(tt.key, tt.value); err != nil {
				t.Fatal(err)
			}
			if got := string(f.Bytes()); got != tt.out {
				t.Errorf("Bytes() = %q, want %q", got, tt.out)
			}
			e := f.Lookup(tt.key)
			if e.Value != tt.value || e.Line != tt.line {
				t.Errorf("Lookup(%s) = value %q line %d, want %q line %d", tt.key, e.Value, e.Line, tt.value, tt.line)
			}
			g, err := dotenv.Parse(f.Bytes())
			if err != nil {
				t.Fatalf("re-parse: %v", err)
			}
			if got, want := entries(g), entries(f); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("re-parse = %v, want %v", got, want)
			}
		})
	}
}

func TestSetZeroFile(t *testing.T) {
	var f dotenv.File
	if err := f.Set("A", "1"); err != nil {
		t.Fatal(err)
	}
	if err := f.Set("B", "two words "); err != nil {
		t.Fatal(err)
	}
	if got, want := string(f.Bytes()), "A=1\nB=\"two words \"\n"; got != want {
		t.Errorf("Bytes() = %q, want %q", got, want)
	}
}

func TestSetInvalidName(t *testing.T) {
	for _, name := range []string{"", "A B", "A=B", "A:B", "A#", "A$", "A\n", "\xff"} {
		f, err := dotenv.Parse([]byte("A=1"))
		if err != nil {
			t.Fatal(err)
		}
		err = f.Set(name, "x")
		if !errors.Is(err, dotenv.ErrInvalidName) {
			t.Errorf("Set(%q) error = %v, want ErrInvalidName", name, err)
		}
		if got := string(f.Bytes()); got != "A=1" {
			t.Errorf("Set(%q) changed the file to %q", name, got)
		}
	}
}

// secret appears in every error input: no error message may contain it.
const secret = "s3cr3t"

var errorTests = []struct {
	name string
	in   string
	line int
	msg  string
}{
	{"space in name", "A " + secret + "=1\n", 1, "variable name contains a blank"},
	{"bad name character", "A$" + secret + "=1\n", 1, "unexpected character in variable name"},
	{"bad character after blank", "A " + secret + "$=1\n", 1, "variable name contains a blank"},
	{"bare name then comment", "A #" + secret + "\n", 1, "unexpected character in variable name"},
	{"no name", "\n\n=" + secret + "\n", 3, "variable name is empty"},
	{"no name colon", ": " + secret + "\n", 1, "variable name is empty"},
	{"split name and value", secret + "\n=" + secret + "\n", 2, "variable name is empty"},
	{"export without name", "export =" + secret + "\n", 1, "expected a variable name after export"},
	{"export then line end", "export \n=" + secret + "\n", 1, "expected a variable name after export"},
	{"dollar name", "$" + secret + "=1\n", 1, "expected NAME=VALUE, NAME: VALUE, NAME, a comment or a blank line"},
	{"percent name", "%!(" + secret + ")=1\n", 1, "expected NAME=VALUE, NAME: VALUE, NAME, a comment or a blank line"},
	{"bom not at start", "A=1\n\xEF\xBB\xBFB=" + secret + "\n", 2, "expected NAME=VALUE, NAME: VALUE, NAME, a comment or a blank line"},
	{"unterminated double", "A=1\nB=\"" + secret + "\nC=2\n", 2, "unterminated double-quoted value"},
	{"unterminated double escaped quote", "B=\"" + secret + "\\\"\n", 1, "unterminated double-quoted value"},
	{"unterminated single", "# c\n\nB='" + secret + "\n", 3, "unterminated single-quoted value"},
	{"unterminated single escaped quote", "B='" + secret + "\\'", 1, "unterminated single-quoted value"},
	{"unterminated backtick", "B=`" + secret + "\n", 1, "unterminated backtick-quoted value"},
	{"text after double quote", "A=\"" + secret + "\"" + secret + "\n", 1, "unexpected text after closing quote"},
	{"text after single quote", "A='x' " + secret + "\n", 1, "unexpected text after closing quote"},
	{"text after backtick", "A=`x`" + secret + "\n", 1, "unexpected text after closing quote"},
	{"text after multi-line quote", "A='x\ny'z" + secret + "\n", 2, "unexpected text after closing quote"},
	{"line after multi-line value", "A=\"" + secret + "\n" + secret + "\"\n" + secret + " x\n", 3, "variable name contains a blank"},
	{"CR-only lines", "A=1\r" + secret + " x\r", 2, "variable name contains a blank"},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range errorTests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := dotenv.Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse(%q) succeeded: %q", tt.in, f.Bytes())
			}
			var se *dotenv.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is %T, want *SyntaxError", err, err)
			}
			if se.Line != tt.line || se.Msg != tt.msg {
				t.Errorf("error = line %d %q, want line %d %q", se.Line, se.Msg, tt.line, tt.msg)
			}
			if want := fmt.Sprintf("line %d: %s", tt.line, tt.msg); err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
		})
	}
}

// TestErrorsHideValues checks that no error message quotes the input, for
// the error table and for every truncation of a file full of secrets.
func TestErrorsHideValues(t *testing.T) {
	for _, tt := range errorTests {
		_, err := dotenv.Parse([]byte(tt.in))
		if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[:3]) {
			t.Errorf("Parse(%q) error = %v, want an error without the value", tt.in, err)
		}
	}
	full := "A=" + secret + "\nB='" + secret + "'\nC=\"" + secret + "\\n\"\nD=" + secret + "#x #y\n"
	for i := range len(full) {
		// Truncate, and break the line ending or quoting at the cut.
		for _, tail := range []string{"\r", " x'", "\"x", secret} {
			in := full[:i] + tail
			_, err := dotenv.Parse([]byte(in))
			if err != nil && strings.Contains(err.Error(), secret[:3]) {
				t.Errorf("Parse(%q) error %q contains the value", in, err)
			}
		}
	}
}

func TestEntriesIsACopy(t *testing.T) {
	f, err := dotenv.Parse([]byte("A=1\nB=2\n"))
	if err != nil {
		t.Fatal(err)
	}
	es := f.Entries()
	es[0] = nil
	if f.Entries()[0] == nil {
		t.Error("modifying the slice from Entries changed the file")
	}
}

func TestParseDoesNotRetainInput(t *testing.T) {
	src := []byte("A=1\n")
	f, err := dotenv.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	src[2] = '9'
	if got := f.Lookup("A").Value; got != "1" {
		t.Errorf("Value = %q after changing the input, want %q", got, "1")
	}
}

func BenchmarkParse1000(b *testing.B) {
	var sb strings.Builder
	for i := range 1000 {
		switch i % 5 {
		case 0:
			fmt.Fprintf(&sb, "# comment %d\nVAR_%d=plain-value-%d\n", i, i, i)
		case 1:
			fmt.Fprintf(&sb, "export VAR_%d=\"DEV_ENC:AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_%d\"\n", i, i)
		case 2:
			fmt.Fprintf(&sb, "VAR_%d='{\"a\": %d, \"b\": \"x y\"}' # json\n", i, i)
		case 3:
			fmt.Fprintf(&sb, "VAR_%d=\"line one\\nline two\\t%d\"\r\n", i, i)
		case 4:
			fmt.Fprintf(&sb, "VAR_%d = value with spaces #%d\n\n", i, i)
		}
	}
	src := []byte(sb.String())
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := dotenv.Parse(src)
		if err != nil {
			b.Fatal(err)
		}
		if len(f.Entries()) != 1000 {
			b.Fatal("wrong entry count")
		}
	}
}
