// Package schema reads, combines and generates Go code from
// secrets.schema.json files: the secrets a service declares it needs. It
// implements docs/service-access.md, "Schema format". It is a pure library:
// it reads bytes and returns bytes.
package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/keysmith/keysmith/pkg/strictjson"
)

// MaxSize is the largest schema Parse reads.
const MaxSize = 1 << 20

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid secrets schema")

// Secret is one declared secret.
type Secret struct {
	Name        string
	Description string
}

// Schema is a parsed secrets.schema.json: its secrets, sorted by name.
type Schema struct {
	Secrets []Secret
}

// Names returns the declared names, sorted.
func (s *Schema) Names() []string {
	out := make([]string, len(s.Secrets))
	for i, sec := range s.Secrets {
		out[i] = sec.Name
	}
	return out
}

var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,254}$`) })

// ValidName reports whether s may name a declared secret: an environment
// variable name ([A-Za-z_][A-Za-z0-9_]*, at most 255 bytes), so that
// "keysmith run --schema" can set it. Every such name is a valid vault
// secret name.
func ValidName(s string) bool { return nameRE().MatchString(s) }

// Top-level keys that Parse accepts. The JSON Schema annotations are
// accepted and ignored; anything else is refused, so a misspelled
// "properties" is an error, not an empty schema.
var topKeys = []string{"$schema", "$id", "$comment", "title", "description", "type", "properties", "required", "additionalProperties"}

// Keys of a property.
var propKeys = []string{"type", "description", "title", "$comment"}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// Parse reads a schema: a JSON object whose "properties" map each secret
// name to {"type": "string", "description": "..."}. Duplicate keys,
// unknown keys, a type other than "string", names that are not environment
// variable names, control characters in any text and trailing data are
// errors.
func Parse(data []byte) (*Schema, error) {
	if len(data) > MaxSize {
		return nil, invalid("larger than %d bytes", MaxSize)
	}
	if err := strictjson.CheckKeys(data, false); err != nil {
		return nil, invalid("%v", err)
	}
	top, err := members(data, "the schema")
	if err != nil {
		return nil, err
	}
	var props json.RawMessage
	var required []string
	for _, m := range top {
		if !slices.Contains(topKeys, m.key) {
			return nil, invalid("unknown key %q (want properties, and optionally type, title, description, required, $schema)", m.key)
		}
		switch m.key {
		case "type":
			var t string
			if err := json.Unmarshal(m.value, &t); err != nil || t != "object" {
				return nil, invalid(`"type" must be "object", not %s`, clip(m.value))
			}
		case "properties":
			props = m.value
		case "required":
			if err := json.Unmarshal(m.value, &required); err != nil {
				return nil, invalid(`"required" must be a list of names, not %s`, clip(m.value))
			}
		case "additionalProperties":
			var b bool
			if err := json.Unmarshal(m.value, &b); err != nil {
				return nil, invalid(`"additionalProperties" must be true or false, not %s`, clip(m.value))
			}
		case "$schema", "$id", "$comment", "title", "description":
			var s string
			if err := json.Unmarshal(m.value, &s); err != nil {
				return nil, invalid("%q must be a string, not %s", m.key, clip(m.value))
			}
			if err := checkText(strconv.Quote(m.key), s); err != nil {
				return nil, err
			}
		}
	}
	if props == nil {
		return nil, invalid(`no "properties": a schema maps each secret name to {"type": "string", "description": "..."} under "properties"`)
	}
	ps, err := members(props, `"properties"`)
	if err != nil {
		return nil, err
	}
	s := &Schema{Secrets: make([]Secret, 0, len(ps))}
	for _, p := range ps {
		if !ValidName(p.key) {
			return nil, invalid("secret name %q is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*, at most 255 bytes)", p.key)
		}
		fields, err := members(p.value, fmt.Sprintf("secret %s", p.key))
		if err != nil {
			return nil, err
		}
		sec := Secret{Name: p.key}
		typed := false
		for _, f := range fields {
			if !slices.Contains(propKeys, f.key) {
				return nil, invalid("secret %s: unknown key %q (want type and description)", p.key, f.key)
			}
			var str string
			if err := json.Unmarshal(f.value, &str); err != nil {
				return nil, invalid("secret %s: %q must be a string, not %s", p.key, f.key, clip(f.value))
			}
			if err := checkText("secret "+p.key+": "+strconv.Quote(f.key), str); err != nil {
				return nil, err
			}
			switch f.key {
			case "type":
				if str != "string" {
					return nil, invalid(`secret %s: "type" must be "string", not %q`, p.key, str)
				}
				typed = true
			case "description":
				sec.Description = str
			}
		}
		if !typed {
			return nil, invalid(`secret %s: no "type": want "type": "string"`, p.key)
		}
		s.Secrets = append(s.Secrets, sec)
	}
	sort.Slice(s.Secrets, func(i, j int) bool { return s.Secrets[i].Name < s.Secrets[j].Name })
	names := s.Names()
	for _, r := range required {
		if _, ok := slices.BinarySearch(names, r); !ok {
			return nil, invalid("%q is required but not declared under \"properties\"", r)
		}
	}
	return s, nil
}

type member struct {
	key   string
	value json.RawMessage
}

// members returns the members of the JSON object in data, in order,
// refusing anything but one object. Parse has refused duplicate keys
// (strictjson.CheckKeys) before.
func members(data []byte, what string) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, invalid("%s is not JSON: %v", what, eofErr(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, invalid("%s must be a JSON object, not %s", what, clip(data))
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalid("%s: %v", what, eofErr(err))
		}
		key, ok := tok.(string)
		if !ok {
			return nil, invalid("%s: object key is not a string", what)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, invalid("%s: %s: %v", what, key, eofErr(err))
		}
		out = append(out, member{key, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, invalid("%s: %v", what, eofErr(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid("%s: data after the object", what)
	}
	return out, nil
}

// checkText refuses control characters (C0, DEL, C1) and the Unicode
// bidirectional controls in a description, title or other text: they end up
// on an operator's terminal (vault ls --missing, schema check), where a
// newline forges a table row and an escape sequence rewrites the screen.
func checkText(what, s string) error {
	for i, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return invalid("%s contains the control character %U at byte %d (no newlines, tabs, escapes or bidi controls)", what, r, i)
		}
	}
	return nil
}

func eofErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("unexpected end of JSON")
	}
	return err
}

func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}

type jsonProp struct {
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
}

type jsonSchema struct {
	Schema     string              `json:"$schema"`
	Type       string              `json:"type"`
	Properties map[string]jsonProp `json:"properties"`
	Required   []string            `json:"required"`
}

// Marshal writes s as a canonical secrets.schema.json: sorted, indented,
// every secret required.
func (s *Schema) Marshal() ([]byte, error) {
	js := jsonSchema{Schema: "https://json-schema.org/draft/2020-12/schema", Type: "object", Properties: map[string]jsonProp{}, Required: s.Names()}
	for _, sec := range s.Secrets {
		js.Properties[sec.Name] = jsonProp{Type: "string", Description: sec.Description}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(js); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// File is a schema with the name of the file it came from, for messages.
type File struct {
	Path   string
	Schema *Schema
}

// ConflictError is a secret declared by two files with different
// descriptions.
type ConflictError struct {
	Name         string
	PathA, PathB string
	DescA, DescB string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("secret %s is declared with different descriptions: %q says %q, %q says %q", e.Name, e.PathA, e.DescA, e.PathB, e.DescB)
}

// Combine merges schemas: a service's own and its dependencies'. A name
// declared by several files must have the same description in each; the
// first conflict is a *ConflictError naming both files.
func Combine(files []File) (*Schema, error) {
	from := map[string]int{}
	out := &Schema{Secrets: []Secret{}}
	for i, f := range files {
		for _, sec := range f.Schema.Secrets {
			j, ok := from[sec.Name]
			if !ok {
				from[sec.Name] = i
				out.Secrets = append(out.Secrets, sec)
				continue
			}
			prev := findSecret(files[j].Schema, sec.Name)
			if prev.Description != sec.Description {
				return nil, &ConflictError{Name: sec.Name, PathA: files[j].Path, PathB: f.Path, DescA: prev.Description, DescB: sec.Description}
			}
		}
	}
	sort.Slice(out.Secrets, func(i, j int) bool { return out.Secrets[i].Name < out.Secrets[j].Name })
	return out, nil
}

func findSecret(s *Schema, name string) Secret {
	for _, sec := range s.Secrets {
		if sec.Name == name {
			return sec
		}
	}
	return Secret{}
}
