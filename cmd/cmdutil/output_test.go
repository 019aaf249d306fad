package cmdutil

import (
	"bytes"
	"testing"
)

func TestTableEscapesControlCharacters(t *testing.T) {
	var b bytes.Buffer
	tb := NewTable(&b, "NAME", "DESCRIPTION")
	tb.Row("X", "line1\nNEW_ROW  evil\x1b[2J\ttab")
	tb.Row("Y", "plain ünïcode")
	if err := tb.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "NAME  DESCRIPTION\nX     line1\\nNEW_ROW  evil\\x1b[2J\\ttab\nY     plain ünïcode\n"
	if got := b.String(); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestWriteJSONNoHTMLEscape(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, map[string]string{"v": "<a&b>"}); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "{\"v\":\"<a&b>\"}\n" {
		t.Fatalf("got %q", got)
	}
}
