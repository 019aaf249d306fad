package dotenv

import (
	"fmt"
	"strings"
)

// Variable expansion, as Docker Compose does it (docs/dotenv.md,
// "Expansion"): $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
// ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt}, nested in the
// default, error and alt texts, and $$ for a literal '$'. Unquoted and
// double-quoted values expand; in a double-quoted value \$ is a literal '$'
// too. Single-quoted and backtick-quoted values never expand.

// LookupFunc returns the value of a variable and whether it is set.
type LookupFunc func(name string) (string, bool)

// ExpandError reports a value that does not expand: an unset or empty
// ${VAR:?error} (Var is VAR), or a malformed ${...} (Var is "").
type ExpandError struct {
	Line int    // line of the entry
	Name string // the entry's name
	Var  string // the variable that is required, "" for a malformed expression
	Msg  string // what is wrong
}

func (e *ExpandError) Error() string {
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Name, e.Msg)
}

// exprError is an ExpandError before it knows its entry.
type exprError struct{ v, msg string }

// Expands reports whether expansion can change the entry's value: whether it
// is unquoted or double-quoted and holds a $VAR, ${...} or $$.
func (e *Entry) Expands() bool {
	t, ok := e.template()
	if !ok {
		return false
	}
	got, err := substitute(t, func(string) (string, bool) { return "\x00", true })
	return err != nil || got != e.Value
}

// HasExpansion reports whether v, written unquoted or double-quoted in a
// file, would be changed by expansion: whether it holds $VAR, ${...} or $$.
// File.Set and Entry.SetValue always write values so that they read back
// literally; HasExpansion tells a caller that v looks as if it was meant to
// be expanded.
func HasExpansion(v string) bool {
	if !strings.Contains(v, "$") {
		return false
	}
	got, err := substitute(v, func(string) (string, bool) { return "\x00", true })
	return err != nil || got != v
}

// Expand returns the entry's value with its variables expanded, looking
// names up with lookup. A value that does not expand (Quote '\” or '`', no
// '$') is returned as it is. Errors are *ExpandError. An inherited entry
// (Inherit) has no value to expand: Expand returns "".
func (e *Entry) Expand(lookup LookupFunc) (string, error) {
	t, ok := e.template()
	if !ok {
		return e.Value, nil
	}
	v, err := substitute(t, lookup)
	if err != nil {
		return "", &ExpandError{Line: e.Line, Name: e.Name, Var: err.v, Msg: err.msg}
	}
	return v, nil
}

// template returns the value in expansion syntax, and false if the value
// does not expand. In a double-quoted value the escapes are decoded, with \$
// written as $$, as Compose does.
func (e *Entry) template() (string, bool) {
	if e.Inherit || e.Quote == '\'' || e.Quote == '`' || !strings.Contains(e.raw, "$") {
		return "", false
	}
	if e.Quote == 0 {
		return e.Value, true
	}
	in := e.raw[1 : len(e.raw)-1]
	var b strings.Builder
	b.Grow(len(in) + 4)
	for j := 0; j < len(in); j++ {
		c := in[j]
		switch {
		case c == '\r' && j+1 < len(in) && in[j+1] == '\n':
			continue
		case c == '\\' && j+1 < len(in) && in[j+1] == '$':
			b.WriteString("$$")
			j++
			continue
		case c == '\\':
			if d, n := unescape(in[j+1:]); n > 0 {
				b.WriteByte(d)
				j += n
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

func isVarStart(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_'
}

func isVarByte(c byte) bool { return isVarStart(c) || '0' <= c && c <= '9' }

// substitute expands t.
func substitute(t string, lookup LookupFunc) (string, *exprError) {
	i := strings.IndexByte(t, '$')
	if i < 0 {
		return t, nil
	}
	var b strings.Builder
	b.Grow(len(t))
	for i >= 0 {
		b.WriteString(t[:i])
		t = t[i:] // t[0] == '$'
		switch {
		case len(t) == 1:
			b.WriteByte('$')
			t = ""
		case t[1] == '$':
			b.WriteByte('$')
			t = t[2:]
		case t[1] == '{':
			v, n, err := braced(t, lookup)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			t = t[n:]
		case isVarStart(t[1]):
			n := 2
			for n < len(t) && isVarByte(t[n]) {
				n++
			}
			v, _ := lookup(t[1:n])
			b.WriteString(v)
			t = t[n:]
		default:
			// A '$' before anything else is literal.
			b.WriteByte('$')
			t = t[1:]
		}
		i = strings.IndexByte(t, '$')
	}
	b.WriteString(t)
	return b.String(), nil
}

// braced expands the ${...} at the start of t and returns its value and
// length.
func braced(t string, lookup LookupFunc) (string, int, *exprError) {
	const malformed = "malformed ${...} expression (see docs/dotenv.md)"
	n := 2
	if n == len(t) || !isVarStart(t[n]) {
		return "", 0, &exprError{msg: malformed}
	}
	for n < len(t) && (isVarByte(t[n]) || t[n] == '.' && n+1 < len(t) && isVarStart(t[n+1])) {
		n++ // inside braces a name may hold dots, as dotenvx reads them
	}
	name := t[2:n]
	if n == len(t) {
		return "", 0, &exprError{msg: malformed}
	}
	if t[n] == '}' {
		v, _ := lookup(name)
		return v, n + 1, nil
	}
	colon := t[n] == ':'
	if colon {
		n++
	}
	if n == len(t) || (t[n] != '-' && t[n] != '?' && t[n] != '+') {
		return "", 0, &exprError{msg: malformed}
	}
	op := t[n]
	start := n + 1
	end, depth := -1, 0
	for j := start; j < len(t) && end < 0; j++ {
		switch {
		case t[j] == '$' && j+1 < len(t) && (t[j+1] == '{' || t[j+1] == '$'):
			if t[j+1] == '{' {
				depth++
			}
			j++
		case t[j] == '}':
			if depth == 0 {
				end = j
			}
			depth--
		}
	}
	if end < 0 {
		return "", 0, &exprError{msg: malformed}
	}
	arg := t[start:end]
	val, set := lookup(name)
	empty := !set || colon && val == ""
	switch op {
	case '-':
		if empty {
			v, err := substitute(arg, lookup)
			return v, end + 1, err
		}
	case '+':
		if empty {
			return "", end + 1, nil
		}
		v, err := substitute(arg, lookup)
		return v, end + 1, err
	case '?':
		if empty {
			msg, err := substitute(arg, lookup)
			if err != nil {
				return "", 0, err
			}
			state := "is not set"
			if set {
				state = "is empty"
			}
			if msg != "" {
				state += ": " + msg
			}
			return "", 0, &exprError{v: name, msg: "required variable " + name + " " + state}
		}
	}
	return val, end + 1, nil
}
