package cmdutil

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"
)

// JSON reports whether --output json was asked for.
func (f *Factory) JSON() bool { return f.Config != nil && f.Config.Output == "json" }

// PrintJSON writes v as one line of JSON on stdout: every command's JSON goes
// through here so all look alike (snake_case keys, no HTML escaping).
func (f *Factory) PrintJSON(v any) error {
	return WriteJSON(f.IO.Out, v)
}

// WriteJSON writes v as one line of JSON to w.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Table writes aligned columns to stdout; a header row is given first.
// The output is text/tabwriter's (minwidth 0, padding 2, spaces): a column
// is as wide as its widest cell in runes plus 2, the last cell of a row is
// not padded. Rows of one length (every table keysmith prints) are laid
// out directly, in one pass over the stored cells; others go through
// tabwriter.
type Table struct {
	w     io.Writer
	rows  [][]string
	ncols int // the length of every row so far; -1 when they differ
}

// NewTable starts a table on w.
func NewTable(w io.Writer, header ...string) *Table {
	t := &Table{w: w}
	if len(header) > 0 {
		t.Row(header...)
	}
	return t
}

// Row adds a row. Control characters in a column (a newline or an escape
// sequence in a description somebody else wrote) are shown escaped, so they
// cannot forge rows or drive the terminal.
func (t *Table) Row(cols ...string) {
	row := make([]string, len(cols))
	for i, c := range cols {
		if strings.IndexFunc(c, unicode.IsControl) >= 0 {
			q := strconv.Quote(c)
			c = q[1 : len(q)-1]
		}
		row[i] = c
	}
	switch {
	case len(t.rows) == 0:
		t.ncols = len(row)
	case t.ncols != len(row):
		t.ncols = -1
	}
	t.rows = append(t.rows, row)
}

// Flush writes the table out.
func (t *Table) Flush() error {
	rows := t.rows
	t.rows = nil
	if t.ncols < 0 {
		tw := tabwriter.NewWriter(t.w, 0, 4, 2, ' ', 0)
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		return tw.Flush()
	}
	if len(rows) == 0 {
		return nil
	}
	width := make([]int, t.ncols)
	for _, r := range rows {
		for j := 0; j < len(r)-1; j++ {
			width[j] = max(width[j], utf8.RuneCountInString(r[j])+2)
		}
	}
	pad := strings.Repeat(" ", slices.Max(width))
	var buf []byte
	for _, r := range rows {
		buf = buf[:0]
		for j, c := range r {
			buf = append(buf, c...)
			if j < len(r)-1 {
				buf = append(buf, pad[:width[j]-utf8.RuneCountInString(c)]...)
			}
		}
		buf = append(buf, '\n')
		if _, err := t.w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// SecretValue carries a plaintext in JSON output: "value" when it is UTF-8
// text, else "value_base64" (standard base64), so binary secrets survive a
// JSON round trip instead of turning into U+FFFD.
type SecretValue struct {
	Value  *string `json:"value,omitempty"`
	Base64 string  `json:"value_base64,omitempty"`
}

// NewSecretValue wraps a plaintext for JSON output.
func NewSecretValue(b []byte) SecretValue {
	if utf8.Valid(b) {
		s := string(b)
		return SecretValue{Value: &s}
	}
	return SecretValue{Base64: base64.StdEncoding.EncodeToString(b)}
}
