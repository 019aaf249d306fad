// Package cmdutil holds what every keysmith command shares: streams, the
// typed configuration, key resolution, errors and exit codes, and output.
package cmdutil

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/keysmith/keysmith/pkg/keysource"
	"github.com/keysmith/keysmith/pkg/legacy"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/value"
	"github.com/keysmith/keysmith/pkg/vault"
)

// Factory carries the dependencies commands receive. Fields are set by the
// root command; tests replace them.
type Factory struct {
	IO      *IOStreams
	Getenv  func(string) string
	Rand    io.Reader
	Now     func() time.Time
	Version string

	// Config is filled once, by the root command's PersistentPreRunE.
	Config *Config

	// Vault opens the configured vault and unlocks it; LockedVault opens
	// it without a key. Both are lazy: nothing is opened until a command
	// calls them, and the caller closes what they return. Tests replace
	// them.
	Vault       func() (*vault.Vault, error)
	LockedVault func() (*vault.Vault, error)

	// Serving: the vault is opened for keysmith serve, a long-running
	// process (a PostgreSQL store caches its prepared statements).
	Serving bool

	keyrings map[string]*value.Keyring
	inferred map[string]string // environments known only from a file name -> that file
	noted    map[string]bool   // notes about key sources already printed
	oldKeys  []masterkey.Key   // --from-key-env / --from-key-file: open, never seal
	oldTexts []string          // free-text legacy keys from the same flags: open Fernet only
}

// AddOldLegacyTexts adds free-text keys of the older Python tool (not 32
// bytes): they open legacy (Fernet) values of an environment whose config
// says legacy.<env>.kdf_input: text, and nothing else. They are never a
// masterkey.Key, so nothing can seal with them (docs/legacy.md).
func (f *Factory) AddOldLegacyTexts(texts ...string) {
	f.oldTexts = append(f.oldTexts, texts...)
}

// LegacyTextEnvs lists the environments whose config sets
// legacy.<env>.kdf_input: text, the only ones a free-text key may open.
func (f *Factory) LegacyTextEnvs() []string {
	var envs []string
	for env, lc := range f.Config.Legacy {
		if lc.KDFInput == "text" {
			envs = append(envs, env)
		}
	}
	sort.Strings(envs)
	return envs
}

// AddOldKeys adds keys that open values but never seal, to the keyring of
// every environment this process builds: the previous key of a rotation
// done outside keysmith (secrets rekey --from-key-env). A key opens only
// the values that name its key ID, so an extra key cannot open anything
// it was not sealed for.
func (f *Factory) AddOldKeys(keys ...masterkey.Key) {
	f.oldKeys = append(f.oldKeys, keys...)
}

// New returns a Factory for the real process.
func New(version string) *Factory {
	f := &Factory{
		IO:      System(),
		Getenv:  os.Getenv,
		Rand:    rand.Reader,
		Now:     time.Now,
		Version: version,
	}
	f.Vault, f.LockedVault = f.unlockedVault, f.openVault
	return f
}

func (f *Factory) resolver(env string) *keysource.Resolver {
	return &keysource.Resolver{
		KeyFile:        f.Config.KeyFile,
		KeyCommand:     f.Config.KeyCommandFor(env),
		DefaultKeyFile: f.Config.DefaultKeyFile(),
		Getenv:         f.Getenv,
		Stderr:         f.IO.ErrOut,
		Notef:          f.noteOnce,
	}
}

// noteOnce prints a note about key sources once per process, however many
// times keys are resolved.
func (f *Factory) noteOnce(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if f.noted[msg] {
		return
	}
	if f.noted == nil {
		f.noted = map[string]bool{}
	}
	f.noted[msg] = true
	f.IO.Infof("%s", msg)
}

// KeyLocation says where env's key comes from without reading it.
func (f *Factory) KeyLocation(env string) (*keysource.Location, error) {
	return f.resolver(env).Locate(env)
}

// KeyFileFor returns the key file env's key comes from, for the commands
// that write keys (generate, rotate, import). A key from anywhere else is
// an error saying so: writing to a file nothing reads would only mislead.
func (f *Factory) KeyFileFor(env, verb string) (*keysource.Location, error) {
	loc, err := f.KeyLocation(env)
	if err != nil {
		return nil, keyHint(err, env, f.resolver(env))
	}
	if !loc.IsFile() {
		return nil, WithHint(fmt.Errorf("the %s key comes from %s, not a key file: keysmith cannot %s there", env, loc.Source, verb),
			fmt.Sprintf("to make a key file instead: keysmith key generate -e %s --key-file FILE", env))
	}
	return loc, nil
}

// KeyPolicy says whether a missing dev key may be created.
type KeyPolicy int

const (
	// NoCreate fails when no key resolves.
	NoCreate KeyPolicy = iota
	// CreateDev creates a dev key in the default key file when no source is
	// configured at all and no dev key exists: the first-use convenience. No
	// other environment ever gets a key silently.
	CreateDev
)

// Keys resolves the master keys of env.
func (f *Factory) Keys(env string, policy KeyPolicy) (*keysource.Resolved, error) {
	r := f.resolver(env)
	res, err := r.Resolve(env)
	if err == nil {
		return res, nil
	}
	if errors.Is(err, keysource.ErrNoKey) && env == "dev" && policy == CreateDev && !r.Explicit() {
		// existingOK: another keysmith process may have created it since.
		if err := keysource.MakeDir(r.DefaultKeyFile); err != nil {
			return nil, fmt.Errorf("creating a dev key: %w", err)
		}
		res, cerr := keysource.CreateKey(r.DefaultKeyFile, env, f.Rand, true)
		if cerr != nil {
			return nil, fmt.Errorf("creating a dev key: %w", cerr)
		}
		if res.Created { // said even with -q: the user must know to back it up
			fmt.Fprintf(f.IO.ErrOut, "keysmith: created a new dev key (ID %s) in %s\n", res.Current.ID(), res.Path)
			fmt.Fprintf(f.IO.ErrOut, "keysmith: back it up: without it nothing encrypted for dev can be decrypted\n")
		}
		return res, nil
	}
	return nil, keyHint(err, env, r)
}

// SealingKeyring is Keyring for a command that will seal values. It refuses
// a key that is not tied to an environment (KEYSMITH_MASTER_KEY, a key in
// the variable APP_KEY_SYSVAR names, a single-key file) for an environment only inferred from a
// file name: with a dev key in the shell, "secrets encrypt-file env_prod.env"
// would otherwise seal prod values under the dev key. (Opening is safe: a
// value names the key ID it needs.)
func (f *Factory) SealingKeyring(env string, policy KeyPolicy) (*value.Keyring, error) {
	path, inferred := f.inferred[env]
	if inferred {
		res, err := f.Keys(env, policy)
		if err != nil {
			return nil, err
		}
		if res.EnvAgnostic() {
			return nil, envAgnosticError(path, env, res)
		}
	}
	return f.Keyring(env, policy)
}

func envAgnosticError(path, env string, res *keysource.Resolved) error {
	return WithHint(&UsageError{Err: fmt.Errorf("%q is for environment %s (by its name), but the key in %s is not tied to an environment",
		path, env, res.Source)},
		fmt.Sprintf("select the environment to use that key for it: -e %s (or KEYSMITH_ENV=%s)", env, env))
}

func keyHint(err error, env string, r *keysource.Resolver) error {
	var insecure *keysource.InsecureError
	if errors.As(err, &insecure) {
		return WithHint(err, fmt.Sprintf("chmod 600 %q", insecure.Path))
	}
	if errors.Is(err, masterkey.ErrInvalidKey) {
		return WithHint(err, "a key is 32 bytes written as base64 or 64 hex digits",
			"a free-text key of the older tool opens only legacy values, with secrets migrate --from-key-env VAR and legacy.<env>.kdf_input: text (docs/legacy.md)")
	}
	if !errors.Is(err, keysource.ErrNoKey) {
		return err
	}
	// Name the real cause: the variable APP_KEY_SYSVAR names is not set,
	// or the file the key comes from lacks the environment.
	if name := strings.TrimSpace(r.Getenv(keysource.EnvSysVar)); name != "" && !filepath.IsAbs(name) && r.Getenv(name) == "" && r.KeyFile == "" && r.Getenv(keysource.EnvMasterKey) == "" {
		return WithHint(err, fmt.Sprintf("%s (named by %s) is not set: set it to the %s key", name, keysource.EnvSysVar, env))
	}
	switch loc, lerr := r.Locate(env); {
	case lerr == nil && loc.Source.Kind == keysource.KindKeyFile:
		return WithHint(err, fmt.Sprintf("add one with: keysmith key generate --env %s --key-file %q", env, loc.Path))
	case lerr == nil && loc.IsFile() && loc.Source.Kind != keysource.KindDefaultFile:
		return WithHint(err, fmt.Sprintf("add one to %q with: keysmith key generate --env %s", loc.Path, env))
	}
	return WithHint(err,
		fmt.Sprintf("create one with: keysmith key generate --env %s", env),
		"or set KEYSMITH_MASTER_KEY, --key-file or --key-command (see docs/keys.md)")
}

// Keyring returns the keyring of env, resolving and caching it so that each
// environment's keys are read and stretched once per process.
func (f *Factory) Keyring(env string, policy KeyPolicy) (*value.Keyring, error) {
	if kr, ok := f.keyrings[env]; ok {
		return kr, nil
	}
	res, err := f.Keys(env, policy)
	if err != nil {
		return nil, err
	}
	return f.KeyringFor(res)
}

// KeyringFor builds (once) the keyring of keys already resolved, with the
// legacy Fernet settings of their environment, so a command that resolved
// keys for another purpose (the vault) need not resolve them again.
func (f *Factory) KeyringFor(res *keysource.Resolved) (*value.Keyring, error) {
	env := res.Env
	if kr, ok := f.keyrings[env]; ok {
		return kr, nil
	}
	kr := value.NewKeyring(env, res.Current, append(append([]masterkey.Key{}, res.Retired...), f.oldKeys...)...)
	lc := f.Config.Legacy[env]
	saltText := orDefault(lc.Salt, env)
	if lc.SaltSet {
		saltText = lc.Salt // "" is an empty salt, not the default
	}
	salt, err := legacy.ParseSalt(saltText)
	if err != nil {
		return nil, &UsageError{fmt.Errorf("config legacy.%s.salt: %w", env, err)}
	}
	input, err := legacy.ParseKDFInput(orDefault(lc.KDFInput, "text"))
	if err != nil {
		return nil, &UsageError{fmt.Errorf("config legacy.%s.kdf_input: %w", env, err)}
	}
	kr.SetLegacy(legacyOpener(salt, input))
	if lc.KDFInput == "text" { // set explicitly: a free-text key is fed to the KDF as written
		for _, text := range f.oldTexts {
			o, err := legacy.NewOpener([]byte(text), salt)
			if err != nil {
				return nil, err
			}
			kr.AddLegacyOpener(o.Open)
		}
	}
	if f.keyrings == nil {
		f.keyrings = map[string]*value.Keyring{}
	}
	f.keyrings[env] = kr
	return kr, nil
}

// legacyOpener derives each key's Fernet key once and opens tokens with it.
func legacyOpener(salt []byte, input legacy.KDFInput) value.LegacyFunc {
	openers := map[masterkey.ID]*legacy.Opener{}
	return func(k masterkey.Key, token string) ([]byte, error) {
		o, ok := openers[k.ID()]
		if !ok {
			in := []byte(k.Text())
			if input == legacy.KDFBytes {
				in = k.Bytes()
			}
			var err error
			if o, err = legacy.NewOpener(in, salt); err != nil {
				return nil, err
			}
			openers[k.ID()] = o
		}
		return o.Open(token)
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
