package dotenv_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/pkg/dotenv"
)

// env is the lookup of the expansion tests: SET=v, EMPTY set and empty.
func env(name string) (string, bool) {
	switch name {
	case "SET":
		return "v", true
	case "EMPTY":
		return "", true
	case "NESTED":
		return "${SET}", true
	}
	return "", false
}

var expandTests = []struct {
	name, in, want string
}{
	{"plain", "A=abc", "abc"},
	{"dollar var", "A=x$SET-y", "xv-y"},
	{"unset var", "A=[$NOPE]", "[]"},
	{"braced", "A=${SET}bar", "vbar"},
	{"name stops at dot", "A=$SET.x", "v.x"},
	{"dotted name in braces", "A=${SET.x}|${NOPE.y:-d}", "|d"},
	{"default colon unset", "A=${NOPE:-d}", "d"},
	{"default colon empty", "A=${EMPTY:-d}", "d"},
	{"default colon set", "A=${SET:-d}", "v"},
	{"default unset", "A=${NOPE-d}", "d"},
	{"default empty", "A=${EMPTY-d}", ""},
	{"alt colon set", "A=${SET:+alt}", "alt"},
	{"alt colon empty", "A=${EMPTY:+alt}", ""},
	{"alt empty", "A=${EMPTY+alt}", "alt"},
	{"alt unset", "A=${NOPE+alt}", ""},
	{"required set", "A=${SET:?must}", "v"},
	{"required empty no colon", "A=${EMPTY?must}", ""},
	{"nested default", "A=${NOPE:-${ALSO:-${SET}}}", "v"},
	{"nested with braces after", "A=${NOPE:-x${SET}y}z", "xvyz"},
	{"values are not re-expanded", "A=$NESTED", "${SET}"},
	{"dollar dollar", "A=pa$$word", "pa$word"},
	{"dollar dollar brace", "A=$${SET}", "${SET}"},
	{"lone dollar", "A=5$ $1 $( $", "5$ $1 $( $"},
	{"unquoted backslash is literal", `A=\$SET`, `\v`},
	{"double quoted", `A="q $SET ${SET}"`, "q v v"},
	{"double quoted escaped dollar", `A="foo\$SET \${SET} $SET"`, "foo$SET ${SET} v"},
	{"double quoted escaped backslash", `A="\\$SET"`, `\v`},
	{"double quoted escapes and CRLF", "A=\"a\\n$SET\r\nb\"", "a\nv\nb"},
	{"single quoted", "A='$SET ${SET}'", "$SET ${SET}"},
	{"backticks", "A=`$SET ${SET}`", "$SET ${SET}"},
	{"comment not expanded", "A=$SET # $NOPE", "v"},
}

func TestExpand(t *testing.T) {
	for _, tt := range expandTests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := dotenv.Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			e := f.Entries()[0]
			got, err := e.Expand(env)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if changes := got != e.Value; changes && !e.Expands() {
				t.Errorf("Expands() = false, but %q expands to %q", e.Value, got)
			}
		})
	}
}

func TestExpands(t *testing.T) {
	for in, want := range map[string]bool{
		"A=plain": false, "A=5$ $1": false, "A=$X": true, "A=${X}": true, "A=$$": true,
		`A="\$X"`: false, `A="$X"`: true, `A="$$"`: true, "A='$X'": false, "A=`$X`": false,
		"A": false, "A=${": true,
	} {
		f, err := dotenv.Parse([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Entries()[0].Expands(); got != want {
			t.Errorf("Expands(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestExpandErrors(t *testing.T) {
	for _, tt := range []struct{ in, v, msg string }{
		{"\nA=${NOPE:?set it}", "NOPE", "required variable NOPE is not set: set it"},
		{"\nA=${EMPTY:?}", "EMPTY", "required variable EMPTY is empty"},
		{"\nA=${NOPE?${SET}!}", "NOPE", "required variable NOPE is not set: v!"},
		{"\nA=x${SET:-${NOPE:?inner}}", "", ""}, // not reached: SET is set
		{"\nA=${NOPE:-${OTHER:?inner}}", "OTHER", "required variable OTHER is not set: inner"},
		{"\nA=${", "", "malformed ${...} expression (see docs/dotenv.md)"},
		{"\nA=${}", "", "malformed ${...} expression (see docs/dotenv.md)"},
		{"\nA=${1}", "", "malformed ${...} expression (see docs/dotenv.md)"},
		{"\nA=${SET", "", "malformed ${...} expression (see docs/dotenv.md)"},
		{"\nA=${SET:x}", "", "malformed ${...} expression (see docs/dotenv.md)"},
		{"\nA=${SET:-x", "", "malformed ${...} expression (see docs/dotenv.md)"},
		{"\nA=\"${SET:-}\" ${x", "", "malformed ${...} expression (see docs/dotenv.md)"},
	} {
		f, errs := dotenv.ParseAll([]byte(tt.in))
		if len(errs) > 0 {
			// The last case has text after the quote: not an expansion test.
			if tt.v == "" && strings.Contains(tt.in, `" `) {
				continue
			}
			t.Fatalf("Parse(%q): %v", tt.in, errs[0])
		}
		_, err := f.Entries()[0].Expand(env)
		if tt.msg == "" {
			if err != nil {
				t.Errorf("Expand(%q): %v", tt.in, err)
			}
			continue
		}
		var xe *dotenv.ExpandError
		if !errors.As(err, &xe) {
			t.Fatalf("Expand(%q) error = %v, want *ExpandError", tt.in, err)
		}
		if xe.Line != 2 || xe.Name != "A" || xe.Var != tt.v || xe.Msg != tt.msg {
			t.Errorf("Expand(%q) error = %+v, want line 2, A, %q, %q", tt.in, xe, tt.v, tt.msg)
		}
		if want := "line 2: A: " + tt.msg; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err, want)
		}
	}
}

func TestInherit(t *testing.T) {
	f, err := dotenv.Parse([]byte("A=1\nINHERITED\nexport B  \r\nC=2\rD"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range f.Entries() {
		if e.Inherit {
			got = append(got, e.Name)
			if v, err := e.Expand(env); v != "" || err != nil {
				t.Errorf("%s: Expand = %q, %v", e.Name, v, err)
			}
		}
	}
	if strings.Join(got, ",") != "INHERITED,B,D" {
		t.Errorf("inherited entries = %v", got)
	}
	if e := f.Lookup("B"); !e.Export || e.Line != 3 {
		t.Errorf("B: export %v line %d", e.Export, e.Line)
	}
	if e := f.Lookup("D"); e.Line != 5 {
		t.Errorf("D: line %d, want 5", e.Line)
	}
}

func TestParseAll(t *testing.T) {
	in := "A=1\nbad line\nB='x\ny' z\nC=3\n=4\nD=\"open\n"
	f, errs := dotenv.ParseAll([]byte(in))
	if got := string(f.Bytes()); got != in {
		t.Errorf("Bytes() = %q, want the input", got)
	}
	var lines []int
	for _, e := range errs {
		lines = append(lines, e.Line)
	}
	if len(lines) != 4 || lines[0] != 2 || lines[1] != 4 || lines[2] != 6 || lines[3] != 7 {
		t.Errorf("error lines = %v, want [2 4 6 7]", lines)
	}
	var names []string
	for _, e := range f.Entries() {
		names = append(names, e.Name)
	}
	if strings.Join(names, ",") != "A,C" || f.Lookup("C").Line != 5 {
		t.Errorf("entries = %v (C on line %d), want A,C with C on line 5", names, f.Lookup("C").Line)
	}
	if _, err := dotenv.Parse([]byte(in)); err == nil || err.Error() != errs[0].Error() {
		t.Errorf("Parse error = %v, want the first of ParseAll's", err)
	}
}
