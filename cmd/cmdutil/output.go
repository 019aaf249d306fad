package cmdutil

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
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
type Table struct {
	w *tabwriter.Writer
}

// NewTable starts a table on w.
func NewTable(w io.Writer, header ...string) *Table {
	t := &Table{w: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	if len(header) > 0 {
		t.Row(header...)
	}
	return t
}

// Row adds a row. Control characters in a column (a newline or an escape
// sequence in a description somebody else wrote) are shown escaped, so they
// cannot forge rows or drive the terminal.
func (t *Table) Row(cols ...string) {
	for i, c := range cols {
		if strings.IndexFunc(c, unicode.IsControl) >= 0 {
			q := strconv.Quote(c)
			cols[i] = q[1 : len(q)-1]
		}
	}
	fmt.Fprintln(t.w, strings.Join(cols, "\t"))
}

// Flush writes the table out.
func (t *Table) Flush() error { return t.w.Flush() }

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
