package schema

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: Parse never panics, and whatever it accepts marshals to a
// schema that parses to the same secrets.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"properties": {}}`,
		`{"properties": {"A": {"type": "string", "description": "x"}}, "required": ["A"]}`,
		`{"properties": {"A": {"type": "string"}, "A": {"type": "string"}}}`,
		`{"properties": {"A": {"type": "string"}}} x`,
		`{"type": "object", "properties": {"a_b": {"type": "string", "description": "\u0000\n*/"}}}`,
		`{"properties": {"A": {"type": "string", "description": "é"}}, "additionalProperties": false}`,
		`[`, `{`, `{"properties":`, `null`, `{"properties": null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		out, err := s.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		s2, err := Parse(out)
		if err != nil {
			t.Fatalf("accepted %q, but its Marshal does not parse: %v", data, err)
		}
		if len(s2.Secrets) != len(s.Secrets) {
			t.Fatalf("round trip changed the secrets")
		}
		for i := range s.Secrets {
			if s.Secrets[i] != s2.Secrets[i] {
				t.Fatalf("round trip: %+v != %+v", s.Secrets[i], s2.Secrets[i])
			}
		}
		// Whatever parses generates Go, or refuses with an error: no panic.
		_, _ = GenerateGo(s, GoOptions{Package: "p", Source: string(data)})
	})
}
