package masterkey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrKeyFile reports a key file that cannot be parsed.
var ErrKeyFile = errors.New("invalid key file")

// RetiredSuffix marks a retired key line: "dev.retired = <key>". A retired key
// still opens values sealed under it but never seals new ones.
const RetiredSuffix = ".retired"

// Entry is one key line of a key file.
type Entry struct {
	Env     string
	Key     Key
	Retired bool
	Line    int // 1-based
}

// File is a parsed key file. It keeps comments, blank lines and order, so
// that adding or retiring a key changes only the lines concerned.
type File struct {
	lines []fileLine
	eol   string
	name  string
	// single is set for a file that holds one key and no environment
	// names (JSON from a Vault agent, openssl -P output, a bare key): it is
	// the key of whatever environment is selected. form names the format.
	single *Key
	form   string
}

type fileLine struct {
	raw   string // without line ending
	entry *Entry // nil for blank and comment lines
}

// LineError is a key file parse error. It names the file and line and what
// was wrong, never the key.
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e *LineError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("key file %q: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("key file %q, line %d: %s", e.File, e.Line, e.Msg)
}

func (e *LineError) Unwrap() error { return ErrKeyFile }

// ParseFile parses a key file: lines "env = <key>" or "env.retired = <key>",
// each optionally followed by a "# comment", '#' comment lines and blank
// lines. name is used in error messages only.
//
// A file that holds a single key instead (see ParseSingle) parses too; its
// key is the key of every environment (File.Single).
func ParseFile(data []byte, name string) (*File, error) {
	f := &File{eol: "\n", name: name}
	data = bytes.TrimPrefix(data, []byte("\uFEFF")) // a byte order mark from a Windows editor
	if bytes.Contains(data, []byte("\r\n")) {
		f.eol = "\r\n"
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return f, nil
	}
	if k, form, ok, err := ParseSingle(text); ok {
		if err != nil {
			return nil, &LineError{name, 0, err.Error()}
		}
		f.single, f.form = &k, form
		return f, nil
	}
	current := map[string]int{}
	seen := map[ID]int{}
	for i, raw := range strings.Split(text, "\n") {
		n := i + 1
		fl := fileLine{raw: raw}
		trimmed := strings.TrimSpace(raw)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			f.lines = append(f.lines, fl)
			continue
		}
		lhs, rhs, ok := strings.Cut(trimmed, "=")
		if !ok {
			return nil, &LineError{name, n, "expected \"env = <key>\""}
		}
		env := strings.TrimSpace(lhs)
		retired := strings.HasSuffix(env, RetiredSuffix)
		env = strings.TrimSuffix(env, RetiredSuffix)
		if !ValidEnv(env) {
			// The text before '=' is not echoed: on a malformed line it may be key material.
			return nil, &LineError{name, n, "environment name is not valid (want [a-z][a-z0-9_-]*)"}
		}
		if i := strings.IndexByte(rhs, '#'); i >= 0 {
			rhs = rhs[:i] // a trailing comment: keys never contain '#'
		}
		key, err := Parse(rhs)
		if err != nil {
			return nil, &LineError{name, n, fmt.Sprintf("%s: %s", env, strings.TrimPrefix(err.Error(), ErrInvalidKey.Error()+": "))}
		}
		if !retired {
			if prev, dup := current[env]; dup {
				return nil, &LineError{name, n, fmt.Sprintf("duplicate environment %q (first on line %d)", env, prev)}
			}
			current[env] = n
		}
		if prev, dup := seen[key.ID()]; dup {
			return nil, &LineError{name, n, fmt.Sprintf("the key with ID %s is already on line %d", key.ID(), prev)}
		}
		seen[key.ID()] = n
		fl.entry = &Entry{Env: env, Key: key, Retired: retired, Line: n}
		f.lines = append(f.lines, fl)
	}
	return f, nil
}

// ParseSingle recognises a file that holds one key and no environment name,
// as secret stores and tools write it:
//
//   - JSON {"key": "<key>"} (a Vault agent injector template), {"data":
//     {"key": "<key>"}} (Vault KV v2 data) or {"data": {"data": {"key":
//     "<key>"}}} (the whole "vault kv get -format=json" response);
//   - the output of "openssl enc -aes-256-cbc -k secret -P -md sha1": lines
//     salt=<hex>, key=<64 hex digits>, iv =<hex>;
//   - the key alone on one line.
//
// ok reports whether text has one of these shapes; err, whether its key is
// then not valid. Errors never contain the key.
func ParseSingle(text string) (k Key, form string, ok bool, err error) {
	t := strings.TrimSpace(text)
	switch {
	case strings.HasPrefix(t, "{"):
		s, err := KeyFromJSON([]byte(t))
		if err != nil {
			return Key{}, "JSON", true, err
		}
		k, err = Parse(s)
		return k, "JSON", true, err
	case isOpenSSL(t):
		for _, l := range strings.Split(t, "\n") {
			if v, found := strings.CutPrefix(strings.TrimSpace(l), "key="); found {
				k, err = Parse(v)
				return k, "openssl -P output", true, err
			}
		}
	case !strings.ContainsAny(t, "\n#"):
		if k, err := Parse(t); err == nil {
			return k, "a bare key", true, nil
		}
	}
	return Key{}, "", false, nil
}

// isOpenSSL: "openssl enc -P" prints salt= (unless -nosalt), key= and "iv =".
func isOpenSSL(t string) bool {
	var key, iv bool
	for _, l := range strings.Split(t, "\n") {
		l = strings.TrimSpace(l)
		key = key || strings.HasPrefix(l, "key=")
		iv = iv || strings.HasPrefix(l, "iv =") || strings.HasPrefix(l, "iv=")
	}
	return key && iv
}

// KeyFromJSON returns the "key" field of {"key": ...}, {"data": {"key": ...}}
// or {"data": {"data": {"key": ...}}}. Errors never contain the JSON.
func KeyFromJSON(b []byte) (string, error) {
	type level struct {
		Key  *string         `json:"key"`
		Data json.RawMessage `json:"data"`
	}
	for depth := 0; depth < 3; depth++ {
		var v level
		if err := json.Unmarshal(b, &v); err != nil {
			return "", errors.New("JSON that does not parse")
		}
		if v.Key != nil {
			return *v.Key, nil
		}
		if len(v.Data) == 0 || v.Data[0] != '{' {
			break
		}
		b = v.Data
	}
	return "", errors.New(`JSON without a "key" field (want {"key": "..."} or {"data": {"key": "..."}})`)
}

// Single returns the key of a single-key file (see ParseSingle) and the name
// of its format.
func (f *File) Single() (k Key, form string, ok bool) {
	if f.single == nil {
		return Key{}, "", false
	}
	return *f.single, f.form, true
}

// SingleKeyError: keysmith does not rewrite a single-key file.
type SingleKeyError struct{ File, Form string }

func (e *SingleKeyError) Error() string {
	return fmt.Sprintf("key file %q holds a single key (%s), not \"env = key\" lines: change the key where it is made (e.g. in Vault)", e.File, e.Form)
}

func (f *File) refuseSingle() error {
	if f.single != nil {
		return &SingleKeyError{File: f.name, Form: f.form}
	}
	return nil
}

// Entries returns the key lines in file order.
func (f *File) Entries() []Entry {
	var out []Entry
	for _, l := range f.lines {
		if l.entry != nil {
			out = append(out, *l.entry)
		}
	}
	return out
}

// Current returns the current key of env.
func (f *File) Current(env string) (Key, bool) {
	if f.single != nil {
		return *f.single, true
	}
	for _, l := range f.lines {
		if l.entry != nil && l.entry.Env == env && !l.entry.Retired {
			return l.entry.Key, true
		}
	}
	return Key{}, false
}

// Retired returns env's retired keys in file order.
func (f *File) Retired(env string) []Key {
	var out []Key
	for _, l := range f.lines {
		if l.entry != nil && l.entry.Env == env && l.entry.Retired {
			out = append(out, l.entry.Key)
		}
	}
	return out
}

// Add appends "env = <key>". It fails if env already has a current key.
func (f *File) Add(env string, k Key) error {
	if err := f.refuseSingle(); err != nil {
		return err
	}
	if !ValidEnv(env) {
		return fmt.Errorf("environment name %q is not valid (want [a-z][a-z0-9_-]*)", env)
	}
	if cur, ok := f.Current(env); ok {
		return fmt.Errorf("environment %q already has a key (ID %s)", env, cur.ID())
	}
	f.lines = append(f.lines, fileLine{raw: env + " = " + k.Text(), entry: &Entry{Env: env, Key: k}}) // as written: the legacy KDF may use the text
	return nil
}

// AddRetired appends "env.retired = <key>", as the key was written (the
// legacy KDF may use the text). It fails if the file already holds the key.
func (f *File) AddRetired(env string, k Key) error {
	if err := f.refuseSingle(); err != nil {
		return err
	}
	if !ValidEnv(env) {
		return fmt.Errorf("environment name %q is not valid (want [a-z][a-z0-9_-]*)", env)
	}
	if e, ok := f.Find(k.ID()); ok {
		return fmt.Errorf("the key with ID %s is already on line %d", k.ID(), e.Line)
	}
	f.lines = append(f.lines, fileLine{raw: env + RetiredSuffix + " = " + k.Text(), entry: &Entry{Env: env, Key: k, Retired: true}})
	return nil
}

// Find returns the entry holding the key with the given ID.
func (f *File) Find(id ID) (Entry, bool) {
	for _, l := range f.lines {
		if l.entry != nil && l.entry.Key.ID() == id {
			return *l.entry, true
		}
	}
	return Entry{}, false
}

// Rotate makes newKey the current key of env and keeps the old current key
// as "env.retired", on the line where it was, so nothing sealed under it is
// lost.
func (f *File) Rotate(env string, newKey Key) (old Key, err error) {
	if err := f.refuseSingle(); err != nil {
		return Key{}, err
	}
	for i, l := range f.lines {
		if l.entry != nil && l.entry.Env == env && !l.entry.Retired {
			old = l.entry.Key
			f.lines[i] = fileLine{
				raw:   env + RetiredSuffix + " = " + old.Text(), // as written: the legacy KDF may use the text
				entry: &Entry{Env: env, Key: old, Retired: true, Line: l.entry.Line},
			}
			f.lines = append(f.lines, fileLine{raw: env + " = " + newKey.Encode(), entry: &Entry{Env: env, Key: newKey}})
			return old, nil
		}
	}
	return Key{}, fmt.Errorf("environment %q has no key to rotate", env)
}

// Remove deletes env's retired key with the given ID.
func (f *File) Remove(env string, id ID) error {
	if err := f.refuseSingle(); err != nil {
		return err
	}
	for i, l := range f.lines {
		if l.entry != nil && l.entry.Env == env && l.entry.Key.ID() == id {
			if !l.entry.Retired {
				return fmt.Errorf("key %s is the current key of %q; only retired keys can be removed", id, env)
			}
			f.lines = append(f.lines[:i], f.lines[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("environment %q has no retired key with ID %s", env, id)
}

// Bytes renders the file, keeping every line that was not changed.
func (f *File) Bytes() []byte {
	var b strings.Builder
	for _, l := range f.lines {
		b.WriteString(l.raw)
		b.WriteString(f.eol)
	}
	return []byte(b.String())
}
