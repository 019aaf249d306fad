// Package dotenv reads and writes .env files losslessly, according to the
// syntax specified byte by byte in docs/dotenv.md: Docker Compose's dialect,
// plus the constructs dotenv, godotenv and dotenvx accept.
//
// Parse keeps every byte of its input: comments, blank lines, order,
// indentation, quoting, "export " prefixes, line endings and a UTF-8 byte
// order mark all survive, so that Bytes returns the input unchanged for every
// file Parse accepts. Entry.SetValue and File.Set replace only the bytes of
// one value, re-quoting it as docs/dotenv.md describes.
//
// Entry.Value is the value with its quoting and escapes decoded but before
// variable expansion; Entry.Expand applies Compose's $VAR / ${VAR:-default}
// expansion (expand.go). Nothing is ever evaluated.
//
// A File is not safe for concurrent use.
package dotenv

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// bom is the UTF-8 byte order mark; Parse accepts and keeps it at the very
// start of a file only.
const bom = "\xEF\xBB\xBF"

// ErrInvalidName is returned by File.Set for a name that Parse would not read
// back as a name.
var ErrInvalidName = errors.New("invalid variable name")

// SyntaxError reports a line that Parse does not accept. Msg describes what
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
	errs    []*SyntaxError
}

// part is a run of bytes that is either an entry or verbatim text (blank
// lines, comments, the byte order mark, lines ParseAll could not read).
type part struct {
	text string
	e    *Entry
}

// Entry is one NAME=VALUE definition (or a bare NAME line). Its fields
// describe the entry as it stands in the file and are meant to be read only:
// change the value with SetValue, which keeps them up to date.
type Entry struct {
	Name    string
	Value   string // decoded value, before expansion; "" when Inherit
	Line    int    // 1-based line where the entry starts
	Export  bool   // written with an "export " prefix
	Quote   byte   // 0, '\'', '"' or '`', as the value is written
	Inherit bool   // a bare NAME line: the value comes from the environment

	f      *File
	prefix string // indentation, "export ", name, separator and blanks before the value
	raw    string // the value as written, quotes included
	suffix string // blanks, trailing comment and line ending after the value
}

// Parse parses src as a .env file. It returns a *SyntaxError for the first
// line it does not accept. Parse does not retain src.
func Parse(src []byte) (*File, error) {
	f, errs := parse(src, false)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return f, nil
}

// ParseAll parses src like Parse, but goes on after a line it does not
// accept: the line is kept as verbatim text (so Bytes still returns src) and
// its error is returned with the others, in file order. A caller that writes
// the file back should refuse to when there are errors.
func ParseAll(src []byte) (*File, []*SyntaxError) {
	return parse(src, true)
}

func parse(src []byte, recover bool) (*File, []*SyntaxError) {
	p := &parser{s: string(src), line: 1, f: &File{}, recover: recover}
	p.parse()
	return p.f, p.f.errs
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
	if !ValidName(name) {
		return fmt.Errorf("%w %q", ErrInvalidName, name)
	}
	if e := f.Lookup(name); e != nil {
		e.SetValue(value)
		return nil
	}
	eol := f.lineEnding()
	b := f.Bytes()
	if content := strings.TrimPrefix(string(b), bom); content != "" && !endsLine(content) {
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
		Line:   1 + countLines(string(b)),
		f:      f,
		prefix: name + "=",
		suffix: eol,
	}
	e.raw, e.Quote = encode(value, 0, false, eol)
	f.parts = append(f.parts, part{e: e})
	f.entries = append(f.entries, e)
	return nil
}

// endsLine reports whether s ends with a line ending. A CR at the end counts:
// outside quotes a lone CR ends a line.
func endsLine(s string) bool {
	c := s[len(s)-1]
	return c == '\n' || c == '\r'
}

// countLines counts the line endings of s as Parse numbers lines: LF, CR LF
// and a lone CR each end one line.
func countLines(s string) int {
	return strings.Count(s, "\n") + strings.Count(s, "\r") - strings.Count(s, "\r\n")
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
// docs/dotenv.md describes: the entry keeps its quote style when v reads
// back as itself in it, and falls back to double quotes otherwise. A bare
// NAME line becomes NAME=VALUE.
func (e *Entry) SetValue(v string) {
	eol := "\n"
	if e.f != nil {
		eol = e.f.lineEnding()
	}
	if e.Inherit {
		e.prefix += "="
		e.Inherit = false
	}
	multiline := strings.ContainsAny(e.raw, "\n\r")
	raw, q := encode(v, e.Quote, multiline, eol)
	delta := countLines(raw) - countLines(e.raw)
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
// value as written and the quote byte it now uses. Whatever it writes reads
// back as v, with and without expansion.
func encode(v string, quote byte, multiline bool, eol string) (string, byte) {
	if eol == "\r" {
		// Inside quotes a lone CR is a byte of the value: a line break of
		// a CR-only file is written as LF there.
		eol = "\n"
	}
	switch {
	case quote == 0 && safeUnquoted(v):
		return v, 0
	case quote == '\'' && !strings.ContainsAny(v, "'\r") && !strings.HasSuffix(v, `\`) &&
		(multiline || !strings.Contains(v, "\n")):
		return "'" + strings.ReplaceAll(v, "\n", eol) + "'", '\''
	case quote == '`' && !strings.ContainsAny(v, "`\r") &&
		(multiline || !strings.Contains(v, "\n")):
		return "`" + strings.ReplaceAll(v, "\n", eol) + "`", '`'
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
		case '$':
			b.WriteString(`\$`)
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

// safeUnquoted reports whether v reads back as itself when written unquoted:
// no leading or trailing blank, no quote first, no line break, no comment and
// no '$' that expansion would read.
func safeUnquoted(v string) bool {
	if v == "" {
		return true
	}
	switch v[0] {
	case ' ', '\t', '\'', '"', '`', '#':
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
		case '$':
			if i+1 < len(v) && (v[i+1] == '$' || v[i+1] == '{' || isVarStart(v[i+1])) {
				return false
			}
		}
	}
	return true
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// isNameByte reports whether the ASCII byte c may appear in a name.
func isNameByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '_' || c == '.' || c == '-' || c == '[' || c == ']'
}

// nameEnd returns the end of the name that starts at i: ASCII letters,
// digits, '_', '.', '-', '[', ']', and non-ASCII letters and digits.
func nameEnd(s string, i int) int {
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if !isNameByte(c) {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || !unicode.IsLetter(r) && !unicode.IsNumber(r) {
			return i
		}
		i += n
	}
	return i
}

// ValidName reports whether s reads back as a name: it is not empty and is
// made of name characters (docs/dotenv.md).
func ValidName(s string) bool {
	return s != "" && nameEnd(s, 0) == len(s)
}

type parser struct {
	s       string
	line    int // line of the byte at the current position
	f       *File
	recover bool

	textStart, textEnd int     // the verbatim text part at the end of f.parts
	slab               []Entry // entries are allocated from here
}

// lineError is a syntax error on one line; resume, when set, is the offset
// just past the line where the error was found, where ParseAll goes on.
type lineError struct {
	*SyntaxError
	resume int
}

func (p *parser) errorf(line int, msg string) *lineError {
	return &lineError{SyntaxError: &SyntaxError{Line: line, Msg: msg}}
}

func (p *parser) skipBlanks(i int) int {
	for i < len(p.s) && isBlank(p.s[i]) {
		i++
	}
	return i
}

// endOfLine scans from i, which is inside a line and outside any quotes, to
// just past the line's ending (or to the end of the input), counting the line.
// A line ends with LF, CR LF or a lone CR.
func (p *parser) endOfLine(i int) int {
	s := p.s
	for ; i < len(s); i++ {
		c := s[i]
		if c != '\n' && c != '\r' {
			continue
		}
		end := i + 1
		if c == '\r' && end < len(s) && s[end] == '\n' {
			end++
		}
		if p.f.eol == "" {
			p.f.eol = s[i:end]
		}
		p.line++
		return end
	}
	return i
}

// addText adds s[start:end] as verbatim text, joining it to a text part
// just before it without copying.
func (p *parser) addText(start, end int) {
	if start == end {
		return
	}
	if n := len(p.f.parts); n > 0 && p.f.parts[n-1].e == nil && p.textEnd == start {
		p.textEnd = end
		p.f.parts[n-1].text = p.s[p.textStart:end]
		return
	}
	p.textStart, p.textEnd = start, end
	p.f.parts = append(p.f.parts, part{text: p.s[start:end]})
}

// newEntry allocates an entry; entries come from slabs so that a large file
// costs few allocations.
func (p *parser) newEntry() *Entry {
	if len(p.slab) == cap(p.slab) {
		p.slab = make([]Entry, 0, min(max(len(p.f.entries), 16), 512))
	}
	p.slab = p.slab[:len(p.slab)+1]
	return &p.slab[len(p.slab)-1]
}

func (p *parser) parse() {
	i := 0
	if lines := strings.Count(p.s, "\n") + 1; lines > 8 {
		p.f.parts = make([]part, 0, lines)
		p.f.entries = make([]*Entry, 0, lines)
	}
	if strings.HasPrefix(p.s, bom) {
		p.addText(0, len(bom))
		i = len(bom)
	}
	for i < len(p.s) {
		start, line := i, p.line
		j := p.skipBlanks(i)
		if j == len(p.s) || p.s[j] == '\n' || p.s[j] == '\r' || p.s[j] == '#' {
			end := p.endOfLine(j)
			p.addText(start, end)
			i = end
			continue
		}
		e, end, err := p.entry(start, j)
		if err != nil {
			p.f.errs = append(p.f.errs, err.SyntaxError)
			if !p.recover {
				return
			}
			// Keep the unreadable line as text and go on after it.
			p.line = line
			end = p.endOfLine(j)
			if err.resume > end {
				// The error was found on a later line (text after a
				// multi-line quote): skip to the end of that line.
				p.line += countLines(p.s[end:err.resume])
				end = err.resume
			}
			p.addText(start, end)
			i = end
			continue
		}
		e.Line, e.f = line, p.f
		p.f.parts = append(p.f.parts, part{e: e})
		p.f.entries = append(p.f.entries, e)
		i = end
	}
}

// Error messages; fixed strings that never hold text from the file.
const (
	msgNoName        = "expected NAME=VALUE, NAME: VALUE, NAME, a comment or a blank line"
	msgEmptyName     = "variable name is empty"
	msgExportName    = "expected a variable name after export"
	msgBlankInName   = "variable name contains a blank"
	msgBadNameChar   = "unexpected character in variable name"
	msgTextAfter     = "unexpected text after closing quote"
	msgUnterminatedS = "unterminated single-quoted value"
	msgUnterminatedD = "unterminated double-quoted value"
	msgUnterminatedB = "unterminated backtick-quoted value"
)

// entry parses the entry line starting at start, whose first non-blank byte
// is at i. It returns the entry and the offset just past it.
func (p *parser) entry(start, i int) (*Entry, int, *lineError) {
	s, line := p.s, p.line
	e := p.newEntry()
	if strings.HasPrefix(s[i:], "export") && i+6 < len(s) && isBlank(s[i+6]) {
		j := p.skipBlanks(i + 6)
		if j == len(s) || nameEnd(s, j) == j {
			return nil, 0, p.errorf(line, msgExportName)
		}
		e.Export, i = true, j
	}
	n := nameEnd(s, i)
	if n == i {
		if s[i] == '=' || s[i] == ':' {
			return nil, 0, p.errorf(line, msgEmptyName)
		}
		return nil, 0, p.errorf(line, msgNoName)
	}
	e.Name = s[i:n]
	sep := p.skipBlanks(n)
	if sep == len(s) || s[sep] == '\n' || s[sep] == '\r' {
		// A bare NAME: inherited from the environment.
		e.Inherit = true
		next := p.endOfLine(sep)
		e.prefix, e.suffix = s[start:n], s[n:next]
		return e, next, nil
	}
	if s[sep] != '=' && s[sep] != ':' {
		if sep > n && nameEnd(s, sep) > sep {
			return nil, 0, p.errorf(line, msgBlankInName)
		}
		return nil, 0, p.errorf(line, msgBadNameChar)
	}
	v := p.skipBlanks(sep + 1)
	if v < len(s) && (s[v] == '\'' || s[v] == '"' || s[v] == '`') {
		e.Quote = s[v]
		end, err := p.quoted(e, v)
		if err != nil {
			return nil, 0, err
		}
		w := p.skipBlanks(end)
		if w < len(s) && s[w] != '#' && s[w] != '\r' && s[w] != '\n' {
			err := p.errorf(p.line, msgTextAfter)
			err.resume = p.endOfLine(w)
			return nil, 0, err
		}
		next := p.endOfLine(w)
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
		// Empty: the value sits right after the separator so that a new
		// value never touches a trailing comment.
		v, end = sep+1, sep+1
	}
	next := p.endOfLine(stop)
	e.prefix, e.raw, e.suffix = s[start:v], s[v:end], s[end:next]
	e.Value = e.raw
	return e, next, nil
}

// quoted decodes the quoted value whose opening quote is at i into e.Value
// and returns the offset just past the closing quote.
func (p *parser) quoted(e *Entry, i int) (int, *lineError) {
	s, line, q := p.s, p.line, p.s[i]
	var b []byte
	plain := true // e.Value is s[i+1:j] verbatim
	flush := func(j int) {
		if plain {
			b = append(make([]byte, 0, len(s[i+1:j])+16), s[i+1:j]...)
			plain = false
		}
	}
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == q:
			if plain {
				e.Value = s[i+1 : j]
			} else {
				e.Value = string(b)
			}
			return j + 1, nil
		case c == '\n':
			p.line++
		case c == '\r':
			if j+1 < len(s) && s[j+1] == '\n' {
				// CRLF inside quotes decodes as LF.
				flush(j)
				continue
			}
			p.line++ // a lone CR ends a line, also inside quotes
		case c == '\\' && q == '\'':
			if j+1 < len(s) && s[j+1] == '\'' {
				flush(j)
				b = append(b, '\'')
				j++
				continue
			}
		case c == '\\' && q == '"':
			flush(j)
			if d, n := unescape(s[j+1:]); n > 0 {
				b = append(b, d)
				j += n
				continue
			}
			// Unknown escape: the backslash is kept, and the next byte
			// is read as usual.
		}
		if !plain {
			b = append(b, c)
		}
	}
	switch q {
	case '"':
		return 0, p.errorf(line, msgUnterminatedD)
	case '`':
		return 0, p.errorf(line, msgUnterminatedB)
	}
	return 0, p.errorf(line, msgUnterminatedS)
}

// unescape decodes the escape that follows a backslash in a double-quoted
// value: it returns the byte and how many bytes after the backslash the
// escape takes, or n == 0 for an unknown escape.
func unescape(t string) (byte, int) {
	if t == "" {
		return 0, 0
	}
	switch t[0] {
	case 'a':
		return '\a', 1
	case 'b':
		return '\b', 1
	case 'f':
		return '\f', 1
	case 'n':
		return '\n', 1
	case 'r':
		return '\r', 1
	case 't':
		return '\t', 1
	case 'v':
		return '\v', 1
	case '\\', '"', '$':
		return t[0], 1
	case '0':
		// \0 and three octal digits, up to \0377.
		if len(t) >= 4 && '0' <= t[1] && t[1] <= '3' && isOctal(t[2]) && isOctal(t[3]) {
			return (t[1]-'0')<<6 | (t[2]-'0')<<3 | (t[3] - '0'), 4
		}
	}
	return 0, 0
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }
