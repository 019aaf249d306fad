package schema

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func mustParse(t *testing.T, s string) *Schema {
	t.Helper()
	sc, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return sc
}

func TestParse(t *testing.T) {
	data, err := os.ReadFile("testdata/orders.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Names(), ","); got != "DB_URL,STRIPE_API_KEY,jwt_signing_key" {
		t.Fatalf("names %s", got)
	}
	if s.Secrets[0].Description != "orders database URL" || s.Secrets[2].Description != "" {
		t.Fatalf("descriptions %+v", s.Secrets)
	}
	if s := mustParse(t, `{"properties": {}}`); len(s.Secrets) != 0 {
		t.Fatal("empty schema has secrets")
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{``, "not JSON"},
		{`[]`, "must be a JSON object"},
		{`{}`, `no "properties"`},
		{`{"propertes": {}}`, `unknown key "propertes"`},
		{`{"type": "array", "properties": {}}`, `"type" must be "object"`},
		{`{"properties": []}`, `must be a JSON object`},
		{`{"properties": {"A": {"type": "number"}}}`, `secret A: "type" must be "string", not "number"`},
		{`{"properties": {"A": {"description": "x"}}}`, `secret A: no "type"`},
		{`{"properties": {"A": {"type": "string", "default": "x"}}}`, `secret A: unknown key "default"`},
		{`{"properties": {"A": {"type": "string", "description": 3}}}`, `"description" must be a string`},
		{`{"properties": {"A": "string"}}`, `secret A must be a JSON object`},
		{`{"properties": {"A-B": {"type": "string"}}}`, `secret name "A-B" is not an environment variable name`},
		{`{"properties": {"1A": {"type": "string"}}}`, `not an environment variable name`},
		{`{"properties": {"A": {"type": "string"}, "A": {"type": "string"}}}`, `key "A" appears twice`},
		{`{"properties": {}, "properties": {}}`, `key "properties" appears twice`},
		{`{"properties": {}} {}`, `data after the object`},
		{`{"properties": {}, "required": ["B"]}`, `"B" is required but not declared`},
		{`{"properties": {"A": {"type": "string"}}`, `unexpected end of JSON`},
		{`{"properties": {}, "title": 1}`, `"title" must be a string`},
		{`{"properties": {"A": {"type": "string"}, "a": {"type": "string"}, "A": {"type": "string"}}}`, `key "A" appears twice in the object at /properties`},
		{`{"properties": {"A": {"type": "string", "type": "string"}}}`, `key "type" appears twice in the object at /properties/A`},
		{`{"properties": {"A": {"type": "string", "description": "db\nFAKE_ROW  orders"}}}`, `secret A: "description" contains the control character U+000A`},
		{`{"properties": {"A": {"type": "string", "description": "\u001b]0;pwned\u0007"}}}`, `control character U+001B`},
		{`{"properties": {"A": {"type": "string", "title": "x\ty"}}}`, `secret A: "title" contains the control character U+0009`},
		{`{"properties": {"A": {"type": "string", "description": "\u009b2J"}}}`, `control character U+009B`},
		{`{"properties": {"A": {"type": "string", "description": "abc\u202edcba"}}}`, `control character U+202E`},
		{`{"properties": {}, "title": "a\rb"}`, `"title" contains the control character U+000D`},
		{`{"properties": {}, "description": "\u007f"}`, `"description" contains the control character U+007F`},
	} {
		_, err := Parse([]byte(c.in))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%s) = %v, want %q", c.in, err, c.want)
		}
	}
	if _, err := Parse(make([]byte, MaxSize+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("oversized: %v", err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	data, _ := os.ReadFile("testdata/orders.schema.json")
	s, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Parse(out)
	if err != nil {
		t.Fatalf("Marshal output does not parse: %v\n%s", err, out)
	}
	out2, _ := s2.Marshal()
	if string(out) != string(out2) {
		t.Fatalf("not canonical:\n%s\n%s", out, out2)
	}
	if !strings.Contains(string(out), `"DB_URL": {`) || !strings.Contains(string(out), `"required": [`) {
		t.Fatalf("output:\n%s", out)
	}
}

func TestCombine(t *testing.T) {
	a := File{"svc/secrets.schema.json", mustParse(t, `{"properties": {"DB_URL": {"type": "string", "description": "orders db"}, "A": {"type": "string"}}}`)}
	b := File{"lib/secrets.schema.json", mustParse(t, `{"properties": {"DB_URL": {"type": "string", "description": "orders db"}, "B": {"type": "string"}}}`)}
	c := File{"other/secrets.schema.json", mustParse(t, `{"properties": {"DB_URL": {"type": "string", "description": "billing db"}}}`)}
	s, err := Combine([]File{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Names(), ","); got != "A,B,DB_URL" {
		t.Fatalf("combined %s", got)
	}
	_, err = Combine([]File{a, b, c})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.PathA != a.Path || ce.PathB != c.Path || ce.Name != "DB_URL" {
		t.Fatalf("conflict: %v", err)
	}
	for _, want := range []string{`"svc/secrets.schema.json" says "orders db"`, `"other/secrets.schema.json" says "billing db"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %s", err, want)
		}
	}
	if s, err := Combine(nil); err != nil || len(s.Secrets) != 0 {
		t.Fatalf("nothing: %v", err)
	}
}
