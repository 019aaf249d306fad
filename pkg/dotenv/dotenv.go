// Package dotenv reads and writes .env files losslessly, according to the
// syntax specified byte by byte in docs/dotenv.md.
//
// Parse keeps every byte of its input: comments, blank lines, order,
// indentation, quoting, "export " prefixes, CRLF line endings and a UTF-8
// byte order mark all survive, so that Bytes returns the input unchanged for
// every file Parse accepts. Entry.SetValue and File.Set replace only the bytes
// of one value, re-quoting it as docs/dotenv.md describes.
//
// Values are literal: there is no $VAR expansion and no command substitution.
//
// A File is not safe for concurrent use.
package dotenv

import (
	"errors"
	"fmt"
	"strings"
)

// bom is the UTF-8 byte order mark; Parse accepts and keeps it at the very
// start of a file only.
const bom = "\xEF\xBB\xBF"

// ErrInvalidName is returned by File.Set for a name that does not match
// [A-Za-z_][A-Za-z0-9_.-]*.
var ErrInvalidName = errors.New("invalid variable name")

// SyntaxError reports an input that Parse does not accept. Msg describes what
// is wrong without quoting the input: a .env line may hold a secret.
type SyntaxError struct {
	Line int    // 1-based line number
	Msg  string // what is wrong, lowercase
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// File is a parsed .env file. The zero value is an empty file.
type File struct {
	parts   []part   // every byte of the file, in order
	entries []*Entry // the parts that are entries, in order
	eol     string   // line ending for new lines; "" means not yet seen
}

// part is a run of bytes that is either an entry or verbatim text (blank
// lines, comments, the byte order mark).
type part struct {
	text string
	e    *Entry
}

// Entry is one NAME=VALUE definition. Its fields describe the entry as it
// stands in the file and are meant to be read only: change the value with
// SetValue, which keeps them up to date.
type Entry struct {
	Name   string
	Value  string // decoded value
	Line   int    // 1-based line where the entry starts
	Export bool   // written with an "export " prefix
	Quote  byte   // 0, '\'' or '"', as the value is written

	f      *File
	prefix string // indentation, "export ", name, '=' and blanks before the value
	raw    string // the value as written, quotes included
	suffix string // blanks, trailing comment and line ending after the value
}

// Parse parses src as a .env file. It returns a *SyntaxError for an input it
// does not accept. Parse does not retain src.
func Parse(src []byte) (*File, error) {
	p := &parser{s: string(src), line: 1, f: &File{}}
	if err := p.parse(); err != nil {
		return nil, err
	}
	return p.f, nil
}

// Bytes returns the file's contents.
func (f *File) Bytes() []byte {
	n := 0
	for _, p := range f.parts {
		if p.e != nil {
			n += len(p.e.prefix) + len(p.e.raw) + len(p.e.suffix)
		} else {
			n += len(p.text)
		}
	}
	b := make([]byte, 0, n)
	for _, p := range f.parts {
		if p.e != nil {
			b = append(b, p.e.prefix...)
			b = append(b, p.e.raw...)
			b = append(b, p.e.suffix...)
		} else {
			b = append(b, p.text...)
		}
	}
	return b
}

// Entries returns the file's entries in file order, duplicates included.
// The entries are live: SetValue on one changes the file.
func (f *File) Entries() []*Entry {
	return append([]*Entry(nil), f.entries...)
}

// Lookup returns the last entry named name, as a shell sourcing the file
// would see it, or nil if there is none.
func (f *File) Lookup(name string) *Entry {
	for i := len(f.entries) - 1; i >= 0; i-- {
		if f.entries[i].Name == name {
			return f.entries[i]
		}
	}
	return nil
}

// Set sets the value of the last entry named name with SetValue or, if there
// is none, appends the line NAME=VALUE, quoted as for an unquoted entry and
// ended with the file's line ending. If the file's last line lacks a line
// ending, Set adds one first. Set returns an error wrapping ErrInvalidName,
// and changes nothing, if name is not a valid name.
func (f *File) Set(name, value string) error {
	if !validName(name) {
		return fmt.Errorf("%w %q", ErrInvalidName, name)
	}
	if e := f.Lookup(name); e != nil {
		e.SetValue(value)
		return nil
	}
	eol := f.lineEnding()
	b := f.Bytes()
	if content := strings.TrimPrefix(string(b), bom); content != "" && content[len(content)-1] != '\n' {
		last := &f.parts[len(f.parts)-1]
		if last.e != nil {
			last.e.suffix += eol
		} else {
			last.text += eol
		}
		b = append(b, eol...)
	}
	e := &Entry{
		Name:   name,
		Value:  value,
		Line:   1 + strings.Count(string(b), "\n"),
		f:      f,
		prefix: name + "=",
		suffix: eol,
	}
	e.raw, e.Quote = encode(value, 0, false, eol)
	f.parts = append(f.parts, part{e: e})
	f.entries = append(f.entries, e)
	return nil
}

// lineEnding is the ending of the file's first line, "\n" if it has none.
func (f *File) lineEnding() string {
	if f.eol == "" {
		return "\n"
	}
	return f.eol
}

// SetValue sets the entry's value to v, replacing only the bytes of the value
// as written: indentation, "export ", name, blanks around '=', trailing
// comment and line ending stay as they are. The quoting is chosen as
// docs/dotenv.md describes: the entry keeps its quote style when v can be
// written in it, and falls back to double quotes otherwise.
func (e *Entry) SetValue(v string) {
	eol := "\n"
	if e.f != nil {
		eol = e.f.lineEnding()
	}
	multiline := strings.Contains(e.raw, "\n")
	raw, q := encode(v, e.Quote, multiline, eol)
	delta := strings.Count(raw, "\n") - strings.Count(e.raw, "\n")
	e.raw, e.Value, e.Quote = raw, v, q
	if delta == 0 || e.f == nil {
		return
	}
	after := false
	for _, o := range e.f.entries {
		if after {
			o.Line += delta
		}
		after = after || o == e
	}
}

// encode writes v for an entry whose value was written with the given quote
// byte (0 for none) and spanned several lines if multiline. It returns the
// value as written and the quote byte it now uses.
func encode(v string, quote byte, multiline bool, eol string) (string, byte) {
	switch {
	case quote == 0 && safeUnquoted(v):
		return v, 0
	case quote == '\'' && !strings.ContainsAny(v, "'\r") &&
		(multiline || !strings.Contains(v, "\n")):
		return "'" + strings.ReplaceAll(v, "\n", eol) + "'", '\''
	}
	nl := `\n`
	if multiline {
		nl = eol
	}
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\r':
			b.WriteString(`\r`)
		case '\n':
			b.WriteString(nl)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String(), '"'
}

// safeUnquoted reports whether v reads back as itself when written unquoted.
func safeUnquoted(v string) bool {
	if v == "" {
		return true
	}
	switch v[0] {
	case ' ', '\t', '\'', '"', '#':
		return false
	}
	if c := v[len(v)-1]; c == ' ' || c == '\t' {
		return false
	}
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\n', '\r':
			return false
		case '#':
			if c := v[i-1]; c == ' ' || c == '\t' {
				return false
			}
		}
	}
	return true
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func isNameStart(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_'
}

func isNameByte(c byte) bool {
	return isNameStart(c) || '0' <= c && c <= '9' || c == '.' || c == '-'
}

func validName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

type parser struct {
	s    string
	line int // line of the byte at the current position
	f    *File
}

func (p *parser) errorf(line int, msg string) error {
	return &SyntaxError{Line: line, Msg: msg}
}

func (p *parser) skipBlanks(i int) int {
	for i < len(p.s) && isBlank(p.s[i]) {
		i++
	}
	return i
}

// endOfLine scans from i, which is inside a line and outside any quotes, to
// just past the line's ending (or to the end of the input), counting the line.
// A CR is accepted only as part of a CRLF line ending.
func (p *parser) endOfLine(i int) (int, error) {
	for ; i < len(p.s); i++ {
		switch p.s[i] {
		case '\r':
			if i+1 == len(p.s) || p.s[i+1] != '\n' {
				return 0, p.errorf(p.line, "carriage return not followed by line feed")
			}
		case '\n':
			if p.f.eol == "" {
				p.f.eol = "\n"
				if i > 0 && p.s[i-1] == '\r' {
					p.f.eol = "\r\n"
				}
			}
			p.line++
			return i + 1, nil
		}
	}
	return i, nil
}

func (p *parser) addText(text string) {
	if text == "" {
		return
	}
	if n := len(p.f.parts); n > 0 && p.f.parts[n-1].e == nil {
		p.f.parts[n-1].text += text
		return
	}
	p.f.parts = append(p.f.parts, part{text: text})
}

func (p *parser) parse() error {
	i := 0
	if strings.HasPrefix(p.s, bom) {
		p.addText(bom)
		i = len(bom)
	}
	for i < len(p.s) {
		start, line := i, p.line
		j := p.skipBlanks(i)
		if j == len(p.s) || p.s[j] == '\n' || p.s[j] == '\r' || p.s[j] == '#' {
			end, err := p.endOfLine(j)
			if err != nil {
				return err
			}
			p.addText(p.s[start:end])
			i = end
			continue
		}
		e, end, err := p.entry(start, j)
		if err != nil {
			return err
		}
		e.Line, e.f = line, p.f
		p.f.parts = append(p.f.parts, part{e: e})
		p.f.entries = append(p.f.entries, e)
		i = end
	}
	return nil
}

// entry parses the entry line starting at start, whose first non-blank byte
// is at i. It returns the entry and the offset just past it.
func (p *parser) entry(start, i int) (*Entry, int, error) {
	s, line := p.s, p.line
	e := &Entry{}
	if strings.HasPrefix(s[i:], "export") && i+6 < len(s) && isBlank(s[i+6]) {
		if j := p.skipBlanks(i + 6); j < len(s) && isNameStart(s[j]) {
			e.Export, i = true, j
		}
	}
	if !isNameStart(s[i]) {
		return nil, 0, p.errorf(line, "expected NAME=VALUE, a comment or a blank line")
	}
	n := i + 1
	for n < len(s) && isNameByte(s[n]) {
		n++
	}
	e.Name = s[i:n]
	eq := p.skipBlanks(n)
	if eq == len(s) || s[eq] != '=' {
		return nil, 0, p.errorf(line, "expected '=' after variable name")
	}
	v := p.skipBlanks(eq + 1)
	if v < len(s) && (s[v] == '\'' || s[v] == '"') {
		e.Quote = s[v]
		end, err := p.quoted(e, v)
		if err != nil {
			return nil, 0, err
		}
		w := p.skipBlanks(end)
		if w < len(s) && s[w] != '#' && s[w] != '\r' && s[w] != '\n' {
			return nil, 0, p.errorf(p.line, "unexpected text after closing quote")
		}
		next, err := p.endOfLine(w)
		if err != nil {
			return nil, 0, err
		}
		e.prefix, e.raw, e.suffix = s[start:v], s[v:end], s[end:next]
		return e, next, nil
	}
	// Unquoted: up to the line ending or a '#' that follows a blank, less
	// trailing blanks.
	end := v
	for end < len(s) && s[end] != '\n' && s[end] != '\r' && !(s[end] == '#' && isBlank(s[end-1])) {
		end++
	}
	stop := end
	for end > v && isBlank(s[end-1]) {
		end--
	}
	if end == v {
		// Empty: the value sits right after '=' so that a new value
		// never touches a trailing comment.
		v, end = eq+1, eq+1
	}
	next, err := p.endOfLine(stop)
	if err != nil {
		return nil, 0, err
	}
	e.prefix, e.raw, e.suffix = s[start:v], s[v:end], s[end:next]
	e.Value = e.raw
	return e, next, nil
}

// quoted decodes the quoted value whose opening quote is at i into e.Value
// and returns the offset just past the closing quote.
func (p *parser) quoted(e *Entry, i int) (int, error) {
	s, line, q := p.s, p.line, p.s[i]
	var b strings.Builder
	plain := true // e.Value is s[i+1:j] verbatim
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == q:
			if plain {
				e.Value = s[i+1 : j]
			} else {
				e.Value = b.String()
			}
			return j + 1, nil
		case c == '\n':
			p.line++
		case c == '\r' && j+1 < len(s) && s[j+1] == '\n':
			// CRLF inside quotes decodes as LF.
			if plain {
				b.WriteString(s[i+1 : j])
				plain = false
			}
			continue
		case c == '\\' && q == '"':
			if plain {
				b.WriteString(s[i+1 : j])
				plain = false
			}
			if j+1 < len(s) {
				if d := unescape(s[j+1]); d != 0 {
					b.WriteByte(d)
					j++
					continue
				}
			}
			// Unknown escape: the backslash is kept, and the next byte
			// is read as usual.
		}
		if !plain {
			b.WriteByte(c)
		}
	}
	if q == '"' {
		return 0, p.errorf(line, "unterminated double-quoted value")
	}
	return 0, p.errorf(line, "unterminated single-quoted value")
}

// unescape returns the byte that a backslash followed by c stands for in a
// double-quoted value, or 0 if the escape is unknown.
func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case '\\', '"', '\'':
		return c
	}
	return 0
}
