// Package secretfile applies keysmith's value format to whole .env files:
// which names are secrets, encrypting the plaintext ones in place, opening
// them all, re-sealing under a new key or out of the legacy format, and the
// checks that gate commits. It implements the file rules of docs/format.md
// ("Values in .env files") on top of pkg/dotenv and pkg/value.
package secretfile

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/keysmith/keysmith/pkg/dotenv"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/value"
)

// Matcher decides which variable names hold secrets.
type Matcher struct{ patterns []string }

// NewMatcher takes shell glob patterns such as "*_SECRET" (path.Match syntax).
// Names and patterns are compared case-insensitively: db_secret and
// Api_Secret are secrets as much as DB_SECRET.
func NewMatcher(patterns []string) (*Matcher, error) {
	upper := make([]string, len(patterns))
	for i, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("secret name pattern %q: %w", p, err)
		}
		upper[i] = strings.ToUpper(p)
	}
	return &Matcher{patterns: upper}, nil
}

// IsSecret reports whether name matches a pattern, ignoring case.
func (m *Matcher) IsSecret(name string) bool {
	name = strings.ToUpper(name)
	for _, p := range m.patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// KnownEnvs are the environments a file name is checked for when the
// caller knows no others.
var KnownEnvs = []string{"dev", "int", "prod"}

// templateWords mark a file that is a template, not an environment's file.
var templateWords = []string{"example", "sample", "template"}

// EnvFromFilename returns the environment a file name declares, among
// KnownEnvs (see EnvFromName).
func EnvFromFilename(p string) (string, bool) {
	env, all := EnvFromName(p, KnownEnvs)
	return env, len(all) == 1 && env != ""
}

// EnvFromName returns the environment a file name declares: the name's
// words (split on ".", "_" and "-", any case) that are known environments.
// env is set when exactly one is named (env_prod.env, prod.env,
// env_PROD.env, .env.prod.local, env_prod.env.bak); all lists them, so a
// caller can refuse an ambiguous name (dev-to-prod.env). A template
// (.env.example, env_prod.env.sample) names none.
func EnvFromName(p string, known []string) (env string, all []string) {
	words := strings.FieldsFunc(strings.ToLower(filepath.Base(p)), func(r rune) bool { return r == '.' || r == '_' || r == '-' })
	for _, w := range words {
		if slices.Contains(templateWords, w) {
			return "", nil
		}
	}
	for _, w := range words {
		if slices.Contains(known, w) && !slices.Contains(all, w) {
			all = append(all, w)
		}
	}
	if len(all) == 1 {
		env = all[0]
	}
	return env, all
}

// Change names an entry that was (or would be) rewritten.
type Change struct {
	Name string `json:"name"`
	Line int    `json:"line"`
}

// Encrypt seals, in place, every secret entry whose value is plaintext,
// binding the variable name. Encrypted values, empty values and
// non-secret names are left alone, so a second run changes nothing.
//
// A value that expansion would change (an unquoted or double-quoted $VAR,
// ${...} or $$, docs/dotenv.md) is left as it is and returned in kept,
// unless literal: a decrypted value is never expanded, so sealing it would
// change what the app sees. With literal it is sealed as written.
func Encrypt(f *dotenv.File, kr *value.Keyring, m *Matcher, literal bool) (changes, kept []Change, err error) {
	lines := originalLines(f)
	for i, e := range f.Entries() {
		if !m.IsSecret(e.Name) || e.Value == "" || value.IsEncrypted(e.Value) {
			continue
		}
		if !literal && e.Expands() {
			kept = append(kept, Change{Name: e.Name, Line: lines[i]})
			continue
		}
		sealed, err := kr.Seal(e.Name, []byte(e.Value))
		if err != nil {
			return nil, nil, err
		}
		changes = append(changes, Change{Name: e.Name, Line: lines[i]})
		e.SetValue(sealed)
	}
	return changes, kept, nil
}

// originalLines are the entries' lines before any is rewritten: a rewritten
// multi-line value moves the lines after it, and a change is reported at its
// line in the file as it was read (as --dry-run shows it).
func originalLines(f *dotenv.File) []int {
	lines := make([]int, len(f.Entries()))
	for i, e := range f.Entries() {
		lines[i] = e.Line
	}
	return lines
}

// HasEncrypted reports whether any value of f is encrypted, i.e. whether a
// key is needed to read it.
func HasEncrypted(f *dotenv.File) bool {
	for _, e := range f.Entries() {
		if value.IsEncrypted(e.Value) {
			return true
		}
	}
	return false
}

// Var is a variable with its plaintext value.
type Var struct {
	Name      string
	Value     string
	Line      int
	Encrypted bool // the value was encrypted in the file
	Inherit   bool // a bare NAME line: the value comes from the environment
}

// EntryError is an error about one entry, with its line.
type EntryError struct {
	Name string
	Line int
	Err  error
}

func (e *EntryError) Error() string { return fmt.Sprintf("line %d: %s: %v", e.Line, e.Name, e.Err) }
func (e *EntryError) Unwrap() error { return e.Err }

// Open returns every variable of f with encrypted values opened under kr.
// Any value that does not open (another environment, wrong key, tampered,
// malformed) is an error naming the variable and line, never the value.
// kr may be nil when f has no encrypted value.
func Open(f *dotenv.File, kr *value.Keyring) ([]Var, error) {
	vars := make([]Var, 0, len(f.Entries()))
	for _, e := range f.Entries() {
		v := Var{Name: e.Name, Value: e.Value, Line: e.Line, Inherit: e.Inherit}
		if value.IsEncrypted(e.Value) {
			if kr == nil {
				return nil, &EntryError{Name: e.Name, Line: e.Line, Err: errors.New("encrypted value but no key")}
			}
			pt, err := kr.Open(e.Value, e.Name)
			if err != nil {
				return nil, &EntryError{Name: e.Name, Line: e.Line, Err: err}
			}
			v.Value, v.Encrypted = string(pt), true
		}
		vars = append(vars, v)
	}
	return vars, nil
}

// Decrypt replaces, in place, every encrypted value with its plaintext.
func Decrypt(f *dotenv.File, kr *value.Keyring) error {
	vars, err := Open(f, kr)
	if err != nil {
		return err
	}
	Apply(f, vars)
	return nil
}

// Apply writes the plaintexts that Open returned for f back into f.
func Apply(f *dotenv.File, vars []Var) {
	for i, e := range f.Entries() {
		if vars[i].Encrypted {
			e.SetValue(vars[i].Value)
		}
	}
}

// Reseal opens and re-seals under the current key, binding the variable
// name, every value of kr's environment for which pick returns true. All
// values are opened before any is changed, so an error leaves f as it was.
func Reseal(f *dotenv.File, kr *value.Keyring, pick func(*value.Parsed) bool) ([]Change, error) {
	type job struct {
		e    *dotenv.Entry
		pt   []byte
		line int // before any value of f is rewritten
	}
	var jobs []job
	for _, e := range f.Entries() {
		if !value.IsEncrypted(e.Value) {
			continue
		}
		p, err := value.Parse(e.Value)
		if err != nil {
			return nil, &EntryError{Name: e.Name, Line: e.Line, Err: err}
		}
		if p.Env != kr.Env() || !pick(p) {
			continue
		}
		pt, err := kr.OpenParsed(p, e.Name)
		if err != nil {
			return nil, &EntryError{Name: e.Name, Line: e.Line, Err: err}
		}
		jobs = append(jobs, job{e, pt, e.Line})
	}
	var changes []Change
	for _, j := range jobs {
		sealed, err := kr.Seal(j.e.Name, j.pt)
		if err != nil {
			return nil, err
		}
		changes = append(changes, Change{Name: j.e.Name, Line: j.line})
		j.e.SetValue(sealed)
	}
	return changes, nil
}

// NotCurrent picks values sealed under a key other than the current one
// (for rekey after a rotation).
func NotCurrent(kr *value.Keyring) func(*value.Parsed) bool {
	return func(p *value.Parsed) bool { return !p.Legacy && p.KeyID != kr.CurrentID() }
}

// IsLegacy picks Fernet values from the older Python design (for migrate).
func IsLegacy(p *value.Parsed) bool { return p.Legacy }

// UsesKey reports the entries of f sealed for env under key id.
func UsesKey(f *dotenv.File, env string, id masterkey.ID) []Change {
	var out []Change
	for _, e := range f.Entries() {
		if p, err := value.Parse(e.Value); err == nil && !p.Legacy && p.Env == env && p.KeyID == id {
			out = append(out, Change{Name: e.Name, Line: e.Line})
		}
	}
	return out
}

// Legacy lists the legacy (Fernet) values of env in f.
func Legacy(f *dotenv.File, env string) []Change {
	var out []Change
	for _, e := range f.Entries() {
		if p, err := value.Parse(e.Value); err == nil && p.Legacy && p.Env == env {
			out = append(out, Change{Name: e.Name, Line: e.Line})
		}
	}
	return out
}

// LegacyUse is a legacy (Fernet) value and the key that opens it.
type LegacyUse struct {
	Change
	KeyID masterkey.ID
	Opens bool // false: no key of the keyring opens it
}

// LegacyUses lists the legacy values of kr's environment in f with the key
// that opens each. A Fernet token names no key, so this tries the keys in
// turn: the only way to tell whether a retired key still opens something.
func LegacyUses(f *dotenv.File, kr *value.Keyring) []LegacyUse {
	var out []LegacyUse
	for _, e := range f.Entries() {
		p, err := value.Parse(e.Value)
		if err != nil || !p.Legacy || p.Env != kr.Env() {
			continue
		}
		id, ok := kr.LegacyKeyID(p)
		out = append(out, LegacyUse{Change: Change{Name: e.Name, Line: e.Line}, KeyID: id, Opens: ok})
	}
	return out
}

// Problem kinds reported by Check.
const (
	KindPlaintext = "plaintext-secret"
	KindWrongEnv  = "wrong-environment"
	KindMalformed = "malformed"
	KindNoOpen    = "does-not-open"
	KindSyntax    = "syntax" // the file does not parse (reported by the check command)
)

// Problem is one finding of Check. It never holds a value.
type Problem struct {
	Line   int    `json:"line"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

// Check lists what is wrong with f: plaintext secrets, values for an
// environment other than env (skipped when env is ""), malformed values and,
// when kr is not nil, values that do not open.
func Check(f *dotenv.File, env string, m *Matcher, kr *value.Keyring) []Problem {
	var out []Problem
	add := func(e *dotenv.Entry, kind, reason string) {
		out = append(out, Problem{Line: e.Line, Name: e.Name, Kind: kind, Reason: reason})
	}
	for _, e := range f.Entries() {
		if !value.IsEncrypted(e.Value) {
			if m.IsSecret(e.Name) && e.Value != "" {
				add(e, KindPlaintext, "secret value is plaintext (run: keysmith secrets encrypt-file)")
			} else if looksEncrypted(e.Value) {
				add(e, KindMalformed, "value looks encrypted but its prefix is not <ENV>_ENC:")
			}
			continue
		}
		p, err := value.Parse(e.Value)
		if err != nil {
			add(e, KindMalformed, err.Error())
			continue
		}
		if env != "" && p.Env != env {
			add(e, KindWrongEnv, fmt.Sprintf("value is for environment %s, but the file is for %s", p.Env, env))
			continue
		}
		if kr != nil && p.Env == kr.Env() {
			if _, err := kr.OpenParsed(p, e.Name); err != nil {
				add(e, KindNoOpen, reason(err))
			}
		}
	}
	return out
}

func looksEncrypted(v string) bool {
	i := strings.Index(strings.ToUpper(v), "_ENC:")
	return i > 0 && !strings.ContainsAny(v[:i], " \t")
}

func reason(err error) string {
	switch {
	case errors.Is(err, value.ErrUnauthenticated):
		return "does not open: " + err.Error()
	default:
		return err.Error()
	}
}
