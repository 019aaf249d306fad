// Package keysource finds the master key of an environment, trying the
// sources in the order documented in docs/keys.md: an explicit key file,
// KEYSMITH_MASTER_KEY, APP_KEY_SYSVAR, a key command, the default key file.
// The environment and the command runner are injected, so the order can be
// tested without touching the process environment.
package keysource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/keysmith/keysmith/pkg/atomicfile"
	"github.com/keysmith/keysmith/pkg/masterkey"
)

// Environment variables read by the resolver.
const (
	EnvMasterKey = "KEYSMITH_MASTER_KEY"
	EnvSysVar    = "APP_KEY_SYSVAR"
)

// Sentinel errors.
var (
	// ErrNoKey: no source has a key for the environment.
	ErrNoKey = errors.New("no master key")
	// ErrInsecureFile: a key file is readable or writable by group or others.
	ErrInsecureFile = errors.New("key file is accessible by other users")
)

// Kind names a kind of key source.
type Kind string

// The kinds of key source, in resolution order.
const (
	KindKeyFile     Kind = "key file"
	KindMasterKey   Kind = "environment variable " + EnvMasterKey
	KindSysVar      Kind = "environment variable named by " + EnvSysVar
	KindSysVarFile  Kind = "key file named by " + EnvSysVar
	KindCommand     Kind = "key command"
	KindDefaultFile Kind = "default key file"
)

// Source says where a key came from. It never holds the key.
type Source struct {
	Kind   Kind
	Detail string // a path, a variable name or a command name
}

func (s Source) String() string {
	if s.Detail == "" {
		return string(s.Kind)
	}
	return fmt.Sprintf("%s %s", s.Kind, s.Detail)
}

// Resolved is an environment's keys and where they came from.
type Resolved struct {
	Env     string
	Current masterkey.Key
	Retired []masterkey.Key
	Source  Source
	Path    string          // the key file, when the key came from one
	File    *masterkey.File // the parsed key file, when the key came from one
	Created bool            // the key was just generated (dev only)
}

// EnvAgnostic reports whether the key is not tied to an environment: it came
// from KEYSMITH_MASTER_KEY, from a variable APP_KEY_SYSVAR names, or from a
// file that holds one key and no environment name. Such a key is the key of
// whatever environment is selected.
func (r *Resolved) EnvAgnostic() bool {
	if r.File != nil {
		_, _, single := r.File.Single()
		return single
	}
	return r.Source.Kind == KindMasterKey || r.Source.Kind == KindSysVar
}

// Resolver finds keys. Zero fields mean "not configured".
type Resolver struct {
	KeyFile        string   // --key-file / KEYSMITH_KEY_FILE
	KeyCommand     []string // --key-command / key_command.<env>, argv
	DefaultKeyFile string   // $XDG_CONFIG_HOME/keysmith/keys
	Getenv         func(string) string
	// RunCommand runs a key command; nil means exec without a shell.
	RunCommand func(ctx context.Context, argv, env []string) ([]byte, error)
	// Stderr receives a key command's standard error.
	Stderr io.Writer
	// CommandTimeout bounds a key command (DefaultCommandTimeout if zero).
	CommandTimeout time.Duration
	// Notef, when set, receives notes such as "CONFIG_KEY (named by
	// APP_KEY_SYSVAR) is not set: using the default key file ...".
	Notef func(format string, a ...any)
}

func (r *Resolver) getenv(k string) string {
	if r.Getenv == nil {
		return ""
	}
	return r.Getenv(k)
}

// Location is where an environment's key comes from, found without reading
// any key: the source, and the key file, variable or command to read.
type Location struct {
	Source  Source
	Path    string // the key file, for a file source
	Var     string // the variable holding the key itself
	Command []string
}

// IsFile reports whether the key comes from a key file, which keysmith can
// add keys to and rotate.
func (l *Location) IsFile() bool { return l.Path != "" }

// Locate finds the source env's key comes from: the first one configured. A
// configured source that is unusable (a missing file it names, a value that
// is neither key nor path) is an error; later sources are not tried. The one
// exception is the seed's "APP_KEY_SYSVAR=CONFIG_KEY, else the key file":
// when the variable APP_KEY_SYSVAR names is not set, the next source is used
// and Notef says so.
func (r *Resolver) Locate(env string) (*Location, error) {
	if !masterkey.ValidEnv(env) {
		return nil, fmt.Errorf("environment name %q is not valid (want [a-z][a-z0-9_-]*)", env)
	}
	if r.KeyFile != "" {
		if r.getenv(EnvMasterKey) != "" {
			// Both set: the documented order says the key file wins; say so,
			// so a KEYSMITH_MASTER_KEY that was meant to be used (or is wrong)
			// is not ignored silently.
			r.notef("%s is set but ignored: the key file %s comes first (docs/keys.md)", EnvMasterKey, r.KeyFile)
		}
		return &Location{Source: Source{KindKeyFile, r.KeyFile}, Path: r.KeyFile}, nil
	}
	if r.getenv(EnvMasterKey) != "" {
		return &Location{Source: Source{Kind: KindMasterKey}, Var: EnvMasterKey}, nil
	}
	if name := strings.TrimSpace(r.getenv(EnvSysVar)); name != "" {
		loc, err := r.locateSysVar(name)
		if loc != nil || err != nil {
			return loc, err
		}
	}
	if len(r.KeyCommand) > 0 {
		return &Location{Source: Source{KindCommand, filepath.Base(r.KeyCommand[0])}, Command: r.KeyCommand}, nil
	}
	if r.DefaultKeyFile != "" {
		return &Location{Source: Source{KindDefaultFile, r.DefaultKeyFile}, Path: r.DefaultKeyFile}, nil
	}
	return nil, fmt.Errorf("%w for environment %s", ErrNoKey, env)
}

// locateSysVar reads APP_KEY_SYSVAR: an absolute path to a key file, or the
// name of a variable holding the key or a key file's path. It returns nil,
// nil when that variable is not set (fall back to the next source).
func (r *Resolver) locateSysVar(name string) (*Location, error) {
	if _, err := masterkey.Parse(name); err == nil {
		// Not echoed: it is a key.
		return nil, fmt.Errorf("%s holds a key, not the name of the variable that holds it: %w", EnvSysVar, masterkey.ErrInvalidKey)
	}
	if filepath.IsAbs(name) {
		if _, err := os.Stat(name); errors.Is(err, fs.ErrNotExist) {
			return nil, missingFile(fmt.Sprintf("%s names the key file %q, which does not exist", EnvSysVar, name))
		}
		return &Location{Source: Source{KindSysVarFile, name}, Path: name}, nil
	}
	v := strings.TrimSpace(r.getenv(name))
	what := fmt.Sprintf("%s (named by %s)", name, EnvSysVar)
	if v == "" {
		next := "no other source"
		if len(r.KeyCommand) > 0 {
			next = "the key command " + filepath.Base(r.KeyCommand[0])
		} else if r.DefaultKeyFile != "" {
			next = "the default key file " + r.DefaultKeyFile
		}
		r.notef("%s is not set: using %s", what, next)
		return nil, nil
	}
	_, keyErr := masterkey.Parse(v)
	if keyErr == nil {
		return &Location{Source: Source{KindSysVar, name}, Var: name}, nil
	}
	if filepath.IsAbs(v) || strings.HasPrefix(v, "."+string(filepath.Separator)) || strings.HasPrefix(v, "~") {
		if _, err := os.Stat(v); errors.Is(err, fs.ErrNotExist) {
			return nil, missingFile(what + " is the path of a key file that does not exist") // the value is not echoed: it may be a mistyped key
		}
	}
	if st, err := os.Stat(v); err == nil && st.Mode().IsRegular() {
		return &Location{Source: Source{KindSysVar, name + " (key file " + v + ")"}, Path: v}, nil
	}
	return nil, fmt.Errorf("%s is neither a key nor the path of a key file: %w", what, keyErr)
}

// missingFile is fs.ErrNotExist with a message that says which source
// named the file.
type missingFile string

func (e missingFile) Error() string { return string(e) }
func (e missingFile) Unwrap() error { return fs.ErrNotExist }

// notKeyFile is masterkey.ErrKeyFile (exit 2) with its own message.
type notKeyFile string

func (e notKeyFile) Error() string { return string(e) }
func (e notKeyFile) Unwrap() error { return masterkey.ErrKeyFile }

func (r *Resolver) notef(format string, a ...any) {
	if r.Notef != nil {
		r.Notef(format, a...)
	}
}

// Resolve returns the keys of env from the first source that is configured
// (see Locate). A configured source that fails is an error; later sources
// are not tried.
func (r *Resolver) Resolve(env string) (*Resolved, error) {
	loc, err := r.Locate(env)
	if err != nil {
		return nil, err
	}
	switch {
	case loc.Source.Kind == KindDefaultFile:
		res, err := fromFile(loc.Path, env, loc.Source)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w for environment %s: %s does not exist", ErrNoKey, env, loc.Path)
		}
		return res, err
	case loc.Path != "":
		return fromFile(loc.Path, env, loc.Source)
	case loc.Var != "":
		k, err := masterkey.Parse(r.getenv(loc.Var))
		if err != nil {
			if loc.Var != EnvMasterKey {
				return nil, fmt.Errorf("%s (named by %s): %w", loc.Var, EnvSysVar, err)
			}
			return nil, fmt.Errorf("%s: %w", loc.Var, err)
		}
		return &Resolved{Env: env, Current: k, Source: loc.Source}, nil
	}
	return r.fromCommand(env)
}

// Explicit reports whether any source other than the default key file is
// configured. Only then may a missing dev key be created.
func (r *Resolver) Explicit() bool {
	return r.KeyFile != "" || r.getenv(EnvMasterKey) != "" || strings.TrimSpace(r.getenv(EnvSysVar)) != "" || len(r.KeyCommand) > 0
}

// DefaultCommandTimeout is how long a key command may run.
const DefaultCommandTimeout = 30 * time.Second

// ErrCommandTimeout: a key command ran longer than its timeout and was killed.
var ErrCommandTimeout = errors.New("key command timed out")

// ErrInterrupted: keysmith got SIGINT or SIGTERM while a key command ran; the
// command (and its process group) was killed.
var ErrInterrupted = errors.New("interrupted")

func (r *Resolver) fromCommand(env string) (*Resolved, error) {
	run := r.RunCommand
	if run == nil {
		run = r.execCommand
	}
	timeout := r.CommandTimeout
	if timeout <= 0 {
		timeout = DefaultCommandTimeout
	}
	// A signal to keysmith cancels the command instead of leaving it
	// running behind a dead parent.
	sigCtx, stop := notifyContext(context.Background())
	defer stop()
	ctx, cancel := context.WithTimeout(sigCtx, timeout)
	defer cancel()
	name := filepath.Base(r.KeyCommand[0])
	out, err := run(ctx, r.KeyCommand, []string{"KEYSMITH_ENV=" + env})
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("key command %s: timed out after %s: %w", name, timeout, ErrCommandTimeout)
	case sigCtx.Err() != nil:
		return nil, fmt.Errorf("key command %s: stopped by a signal: %w", name, ErrInterrupted)
	case err != nil:
		return nil, fmt.Errorf("key command %s: %w", name, err)
	}
	text, err := ParseCommandOutput(out)
	if err != nil {
		return nil, fmt.Errorf("key command %s: %w", name, err)
	}
	k, err := masterkey.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("key command %s: %w", name, err)
	}
	return &Resolved{Env: env, Current: k, Source: Source{KindCommand, name}}, nil
}

func (r *Resolver) execCommand(ctx context.Context, argv, env []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = r.Stderr
	// Its own process group, killed whole on timeout or signal: a shell
	// script's children must not outlive it either.
	killGroup(cmd)
	cmd.WaitDelay = time.Second // a grandchild holding stdout cannot hang keysmith
	return cmd.Output()
}

// ParseCommandOutput takes a key command's stdout: the key itself, or JSON
// {"key": "..."} (the shape a Vault agent template or a KMS wrapper writes),
// or {"data": {"key": "..."}} (Vault KV v2).
func ParseCommandOutput(out []byte) (string, error) {
	t := bytes.TrimSpace(out)
	if len(t) == 0 {
		return "", errors.New("printed nothing")
	}
	if t[0] != '{' {
		return string(t), nil
	}
	k, err := masterkey.KeyFromJSON(t)
	if err != nil {
		return "", fmt.Errorf("printed %w", err)
	}
	return k, nil
}

// ReadFile reads and parses a key file, refusing one that group or others
// can access.
func ReadFile(path string) (*masterkey.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, notKeyFile(fmt.Sprintf("key file %q is a directory", path))
	}
	if !safeMode(st.Mode().Perm()) {
		return nil, &InsecureError{Path: path, Mode: st.Mode().Perm()}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return masterkey.ParseFile(data, path)
}

// safeMode: nobody but the owner may write a key file (a key someone else
// can replace seals your secrets for them), and only the owner may read it,
// unless the file is read-only for everyone (no write bit at all): that is
// how orchestrators mount secrets (Kubernetes, Docker: 0444, 0440), and
// there the mount, not the mode, decides who sees it.
func safeMode(m fs.FileMode) bool {
	if m&0o022 != 0 {
		return false
	}
	return m&0o077 == 0 || m&0o222 == 0
}

// InsecureError is ErrInsecureFile with the path and mode.
type InsecureError struct {
	Path string
	Mode fs.FileMode
}

func (e *InsecureError) Error() string {
	if e.Mode&0o022 != 0 {
		return fmt.Sprintf("key file %q has mode %04o: group or others can write it", e.Path, e.Mode)
	}
	return fmt.Sprintf("key file %q has mode %04o: it must not be accessible by group or others", e.Path, e.Mode)
}

func (e *InsecureError) Unwrap() error { return ErrInsecureFile }

func fromFile(path, env string, src Source) (*Resolved, error) {
	f, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, ok := f.Current(env)
	if !ok {
		return nil, fmt.Errorf("%w for environment %s in key file %q", ErrNoKey, env, path)
	}
	return &Resolved{Env: env, Current: k, Retired: f.Retired(env), Source: src, Path: path, File: f}, nil
}

// LoadOrEmpty reads a key file, or returns an empty one if it does not exist.
func LoadOrEmpty(path string) (*masterkey.File, error) {
	f, err := ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return masterkey.ParseFile(nil, path)
	}
	return f, err
}

// Update changes the key file at path under an exclusive lock: it reads the
// file (or starts an empty one), calls change, and writes the result
// atomically. Two keysmith processes updating one key file never lose each
// other's keys.
//
// The file's directory must exist (a typo in --key-file never creates a
// tree of directories); MakeDir creates the default key file's.
func Update(path string, change func(*masterkey.File) error) (*masterkey.File, error) {
	if st, err := os.Stat(filepath.Dir(path)); errors.Is(err, fs.ErrNotExist) {
		return nil, missingFile(fmt.Sprintf("cannot create key file %q: directory %q does not exist", path, filepath.Dir(path)))
	} else if err == nil && !st.IsDir() {
		return nil, fmt.Errorf("cannot create key file %q: %q is not a directory", path, filepath.Dir(path))
	}
	unlock, err := atomicfile.LockDir(path)
	if err != nil {
		return nil, err
	}
	defer unlock()
	f, err := LoadOrEmpty(path)
	if err != nil {
		return nil, err
	}
	if err := change(f); err != nil {
		return nil, err
	}
	return f, atomicfile.WriteFile(path, f.Bytes(), 0o600)
}

// MakeDir creates the directory of the default key file (mode 0700).
func MakeDir(path string) error {
	return os.MkdirAll(filepath.Dir(path), 0o700)
}

// ErrKeyExists: the environment already has a key in the key file.
var ErrKeyExists = errors.New("environment already has a key")

// KeyExistsError is ErrKeyExists with the environment and the key's ID.
type KeyExistsError struct {
	Env string
	ID  masterkey.ID
}

func (e *KeyExistsError) Error() string {
	return fmt.Sprintf("environment %q already has a key (ID %s)", e.Env, e.ID)
}

// Is makes errors.Is(err, ErrKeyExists) true.
func (e *KeyExistsError) Is(target error) bool { return target == ErrKeyExists }

// CreateKey generates a key for env and adds it to the key file at path,
// creating the file if needed, under the key file's lock. If env already
// has a key there it fails with ErrKeyExists, unless existingOK: then that
// key is returned (Created false), so that processes racing to create the
// first dev key all end up with the same one.
func CreateKey(path, env string, rand io.Reader, existingOK bool) (*Resolved, error) {
	var (
		k       masterkey.Key
		created bool
	)
	f, err := Update(path, func(f *masterkey.File) error {
		if cur, ok := f.Current(env); ok {
			if !existingOK {
				return &KeyExistsError{Env: env, ID: cur.ID()}
			}
			k = cur
			return nil
		}
		var err error
		if k, err = masterkey.Generate(rand); err != nil {
			return err
		}
		created = true
		return f.Add(env, k)
	})
	if err != nil {
		return nil, err
	}
	return &Resolved{Env: env, Current: k, Retired: f.Retired(env), Source: Source{KindDefaultFile, path}, Path: path, File: f, Created: created}, nil
}
