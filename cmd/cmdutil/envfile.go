package cmdutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/keysmith/keysmith/pkg/atomicfile"
	"github.com/keysmith/keysmith/pkg/dotenv"
	"github.com/keysmith/keysmith/pkg/secretfile"
	"github.com/keysmith/keysmith/pkg/value"
)

// ReadEnvFile reads and parses a .env file; errors name the file and the
// first line that does not parse.
func ReadEnvFile(path string) (*dotenv.File, error) {
	data, err := readEnvBytes(path)
	if err != nil {
		return nil, err
	}
	return parseEnvBytes(path, data)
}

func parseEnvBytes(path string, data []byte) (*dotenv.File, error) {
	f, err := dotenv.Parse(data)
	if err != nil {
		return nil, &Error{Err: fmt.Errorf("%q: %w", path, err), Code: ExitUsage,
			Hints: []string{"the .env syntax keysmith reads is in docs/dotenv.md"}}
	}
	return f, nil
}

func readEnvBytes(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%q: %w", path, ErrNotFound)
	}
	return data, err
}

// OpenEnvFile reads a .env file and opens its encrypted values with the key
// of the file's environment (FileEnv). A file with no encrypted value needs
// no key. Errors name the file and, for a value, its line and variable.
//
// The one slow step is stretching the key (PBKDF2, ~20 ms). When the raw
// bytes show a value of the file's environment, the key is resolved before
// the file is parsed and stretched on another goroutine while this one
// parses, so on a machine with two cores the parse costs no wall time. The
// errors and their order are those of the plain sequence: read, parse,
// environment, key.
func (f *Factory) OpenEnvFile(path string) (*dotenv.File, []secretfile.Var, error) {
	data, err := readEnvBytes(path)
	if err != nil {
		return nil, nil, err
	}
	env, envErr := f.FileEnv(path)
	var krErr error // of the early resolution: reported only if the file needs a key
	if envErr == nil {
		if first := firstEncrypted(data, value.Prefix(env)); first != "" {
			var kr *value.Keyring
			if kr, krErr = f.Keyring(env, NoCreate); krErr == nil {
				go kr.WarmFor(first)
			}
		}
	}
	ef, err := parseEnvBytes(path, data)
	if err != nil {
		return nil, nil, err
	}
	if envErr != nil {
		return nil, nil, envErr
	}
	var kr *value.Keyring
	if secretfile.HasEncrypted(ef) {
		if krErr != nil {
			return nil, nil, krErr // not resolved again: a key command runs once
		}
		if kr, err = f.Keyring(env, NoCreate); err != nil { // the early one, from the Factory's cache
			return nil, nil, err
		}
	}
	vars, err := secretfile.Open(ef, kr)
	if err != nil {
		return nil, nil, EntryHint(path, err)
	}
	return ef, vars, nil
}

// firstEncrypted returns the first run of base64url characters after
// prefix ("DEV_ENC:") in data, with the prefix: a guess at the file's first
// encrypted value of that environment, read before the file is parsed. A
// guess that is wrong (the text was in a comment) costs only a derivation.
func firstEncrypted(data []byte, prefix string) string {
	i := bytes.Index(data, []byte(prefix))
	if i < 0 {
		return ""
	}
	body := data[i+len(prefix):]
	n := 0
	for n < len(body) && isBase64URL(body[n]) {
		n++
	}
	return prefix + string(body[:n])
}

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// WriteEnvFile rewrites a .env file atomically, keeping its mode.
func WriteEnvFile(path string, f *dotenv.File) error {
	return atomicfile.WriteFile(path, f.Bytes(), 0o600)
}

// Matcher returns the secret-name matcher from config.
func (f *Factory) Matcher() (*secretfile.Matcher, error) {
	m, err := secretfile.NewMatcher(f.Config.SecretPatterns)
	if err != nil {
		return nil, &UsageError{fmt.Errorf("config secret_patterns: %w", err)}
	}
	return m, nil
}

// FileEnv is the environment of a .env file: the selected environment when
// one was chosen (flag, KEYSMITH_ENV, APP_ENV_TYPE, config), else the one its
// name declares (any word of the name, split on ".", "_", "-", any case, that
// is a known environment: env_prod.env, prod.env, .env.PROD.local), else dev. A file whose name
// declares another environment than the one chosen is an error, so a prod
// file is never sealed with the dev key by accident.
func (f *Factory) FileEnv(path string) (string, error) {
	named, all := secretfile.EnvFromName(path, f.Config.KnownEnvs())
	ok := named != ""
	if len(all) > 1 && f.Config.EnvFrom == "default" {
		return "", WithHint(Usagef("%q names more than one environment (%s)", path, strings.Join(all, ", ")), "select one with -e")
	}
	if f.Config.EnvFrom == "default" {
		if ok {
			if named != f.Config.Env {
				if f.inferred == nil {
					f.inferred = map[string]string{}
				}
				f.inferred[named] = path // see checkEnvAgnostic
			}
			return named, nil
		}
		return f.Config.Env, nil
	}
	if ok && named != f.Config.Env {
		return "", WithHint(&FileEnvError{Path: path, Named: named, Selected: f.Config.Env, From: f.Config.EnvFrom},
			fmt.Sprintf("select it with -e %s", named))
	}
	return f.Config.Env, nil
}

// FileEnvError: a file's name declares another environment than the selected
// one. It is a wrong-environment error (exit 4).
type FileEnvError struct{ Path, Named, Selected, From string }

func (e *FileEnvError) Error() string {
	return fmt.Sprintf("%q is named for environment %s, but the selected environment is %s (from %s)", e.Path, e.Named, e.Selected, e.From)
}

func (e *FileEnvError) Unwrap() error { return value.ErrWrongEnvironment }

// EntryHint adds a hint to errors about one entry of a file.
func EntryHint(path string, err error) error {
	var ee *secretfile.EntryError
	if !errors.As(err, &ee) {
		return err
	}
	// "file:line: NAME: reason", as secrets check prints it.
	err = fmt.Errorf("%s:%d: %s: %w", path, ee.Line, ee.Name, ee.Err)
	switch {
	case errors.Is(err, value.ErrWrongEnvironment):
		return WithHint(err, "select the value's environment with -e, or re-encrypt it for this one")
	case errors.Is(err, value.ErrUnknownKey):
		return WithHint(err, "the key it was sealed with is not available: was the key rotated and retired too early?")
	case errors.Is(err, value.ErrUnauthenticated):
		return WithHint(err, "check that the right master key is selected (keysmith key check), or restore the value from version control")
	}
	return err
}

// ExpansionEnv is the process environment as .env expansion sees it
// (docs/dotenv.md, "Expansion"). keysmith's own variables (KEYSMITH_*) and
// the key sources (APP_KEY_SYSVAR and the variable it names) are left out,
// so a value such as ${KEYSMITH_MASTER_KEY} can never copy a key into a
// command's environment or a decrypted file.
func (f *Factory) ExpansionEnv() dotenv.LookupFunc {
	keyVar := f.Getenv("APP_KEY_SYSVAR")
	return func(name string) (string, bool) {
		if strings.HasPrefix(name, "KEYSMITH_") || name == "APP_KEY_SYSVAR" || name == keyVar {
			return "", false
		}
		return os.LookupEnv(name)
	}
}

// ExpandVars expands the variables OpenEnvFile returned for path with r.
// Errors name the file, the line and the variable.
func ExpandVars(path string, r *secretfile.Resolver, ef *dotenv.File, vars []secretfile.Var) ([]secretfile.Var, error) {
	out, err := r.Expand(ef, vars)
	var xe *dotenv.ExpandError
	if errors.As(err, &xe) {
		err = fmt.Errorf("%q: %w", path, xe)
		if xe.Var != "" {
			return nil, &Error{Err: err, Code: ExitNotFound,
				Hints: []string{fmt.Sprintf("set %s in the environment or in an earlier line or file", xe.Var)}}
		}
		return nil, &Error{Err: err, Code: ExitUsage,
			Hints: []string{"write a literal $ as $$ (or single-quote the value); the syntax is in docs/dotenv.md"}}
	}
	return out, err
}
