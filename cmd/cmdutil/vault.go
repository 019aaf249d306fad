package cmdutil

// Opening the vault for the command groups that use it (vault, device,
// token, access, schema, run, serve): the store --vault names, the
// environment check, the key resolution and unlock, and the hints of the
// vault's errors. Commands get the vault lazily through Factory.Vault
// (unlocked) and Factory.LockedVault.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/keysmith/keysmith/pkg/keysource"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/vault"
	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/store/sqlite"
)

// Actor is the audit actor of this process: the name /etc/passwd gives
// the uid, "uid:<n>" when it has no entry (never $USER, which anyone can
// set). Not os/user: in the static (CGO_ENABLED=0) build both Current and
// LookupId of the own uid fall back to $USER when the uid has no entry.
func Actor() string {
	uid := os.Getuid()
	if name := passwdName("/etc/passwd", uid); name != "" {
		return name
	}
	return "uid:" + strconv.Itoa(uid)
}

// passwdName is the name of uid in the passwd file at path, "" when none.
func passwdName(path string, uid int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	want := strconv.Itoa(uid)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[0] != "" && !strings.HasPrefix(f[0], "#") && f[2] == want {
			return f[0]
		}
	}
	return ""
}

// UserAgent is the audit user_agent of the CLI: "keysmith/<version> (cli)".
func (f *Factory) UserAgent() string { return "keysmith/" + f.Version + " (cli)" }

// Caller is who this process is, for the audit rows of the vault: the OS
// user, from "local", with the CLI's user agent.
func (f *Factory) Caller() vault.Caller {
	return vault.Caller{Actor: Actor(), RemoteAddr: "local", UserAgent: f.UserAgent()}
}

// Ctx is the context of the command's vault calls: it carries the caller.
func (f *Factory) Ctx() context.Context {
	return vault.WithCaller(context.Background(), f.Caller())
}

// VaultOptions are the vault's dependencies from the factory.
func (f *Factory) VaultOptions() vault.Options {
	c := f.Caller()
	return vault.Options{Actor: c.Actor, RemoteAddr: c.RemoteAddr, UserAgent: c.UserAgent, Now: f.Now, Rand: f.Rand}
}

// OpenVaultAnyEnv opens the configured vault without a key, whatever its
// environment (for commands that only look at it).
func (f *Factory) OpenVaultAnyEnv() (*vault.Vault, error) {
	ctx := f.Ctx()
	where := f.Config.Vault
	if err := CheckVaultMode(where, f.Config.VaultGroup); err != nil {
		return nil, err
	}
	st, err := openStore(ctx, where, f.Serving)
	if err != nil {
		return nil, OpenHint(err, DescribeVault(where))
	}
	v, err := vault.Open(ctx, st, f.VaultOptions())
	if err != nil {
		return nil, OpenHint(err, DescribeVault(where))
	}
	return v, nil
}

// openVault opens the configured vault without a key and checks that the
// selected environment, if one was selected explicitly, is the vault's.
func (f *Factory) openVault() (*vault.Vault, error) {
	ctx := f.Ctx()
	v, err := f.OpenVaultAnyEnv()
	if err != nil {
		return nil, err
	}
	if f.Config.EnvFrom != "default" && f.Config.Env != v.Env() {
		v.AuditWrongEnvironment(ctx, f.Config.Env, f.Config.EnvFrom)
		v.Close()
		return nil, WithHint(
			fmt.Errorf("vault %q belongs to environment %s, but %s selects %s: %w", v.Path(), v.Env(), f.Config.EnvFrom, f.Config.Env, vault.ErrWrongEnvironment),
			fmt.Sprintf("the vault needs no -e: it unlocks with the %s key; or choose another vault with --vault", v.Env()))
	}
	return v, nil
}

// unlockedVault opens the vault and unlocks it with its environment's key:
// one key resolution and one key derivation per command.
//
// The derivation (PBKDF2, ~20 ms) is the one slow step, and opening a
// PostgreSQL vault (a TLS connection, a login) takes about as long. When
// the selected environment's key comes from a variable or a file, whose
// reading has no side effect, it is read before the vault is opened and
// stretched on another goroutine while this one connects; the vault turns
// out to need that key in the common case (its environment is the selected
// one). A key command is only ever run for the vault's own environment,
// after the open. The errors and their order are those of the
// plain sequence: open, environment, key.
func (f *Factory) unlockedVault() (*vault.Vault, error) {
	early := f.earlyKey(f.Config.Env)
	defer early.wipe()
	v, err := f.openVault()
	if err != nil {
		return nil, err
	}
	if _, err := f.unlockWith(v, early); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// early is a key resolved before the vault was opened, for env, and the
// stretch of its current key; res and err are the resolution's answer, and
// notes the notes it made, printed only if it is used.
type early struct {
	env   string
	res   *keysource.Resolved
	err   error
	notes []string
	pre   *keyring.Stretch
}

// earlyKey resolves env's key now when that reads only a variable or a
// file, and starts stretching it. A nil early means no early resolution.
func (f *Factory) earlyKey(env string) *early {
	e := &early{env: env}
	r := f.resolver(env)
	r.Notef = func(format string, a ...any) { e.notes = append(e.notes, fmt.Sprintf(format, a...)) }
	loc, err := r.Locate(env)
	if err != nil || loc.Source.Kind == keysource.KindCommand {
		return nil
	}
	if e.res, e.err = r.Resolve(env); e.err == nil {
		e.pre = keyring.Prestretch(e.res.Current, env)
	}
	return e
}

// wipe clears the early stretch; a nil early is harmless.
func (e *early) wipe() {
	if e != nil {
		e.pre.Wipe()
	}
}

// UnlockWith resolves the vault environment's keys and unlocks v. It
// returns the resolved keys: their current key may differ from the vault's
// after a key rotation. A retired key of the environment whose ID is the
// vault's is used too (after "keysmith key rotate", until "vault
// rotate-master").
func (f *Factory) UnlockWith(v *vault.Vault) (*keysource.Resolved, error) {
	return f.unlockWith(v, nil)
}

func (f *Factory) unlockWith(v *vault.Vault, e *early) (*keysource.Resolved, error) {
	r := f.resolver(v.Env())
	var res *keysource.Resolved
	var err error
	var pre *keyring.Stretch
	if e != nil && e.env == v.Env() {
		res, err, pre = e.res, e.err, e.pre // not resolved again
		for _, n := range e.notes {
			f.noteOnce("%s", n)
		}
	} else {
		res, err = r.Resolve(v.Env())
	}
	if err != nil {
		if errors.Is(err, keysource.ErrNoKey) {
			return nil, vaultKeyHint(err, v, r)
		}
		return nil, keyHint(err, v.Env(), r)
	}
	key := res.Current
	if key.ID() != v.KeyID() {
		for _, r := range res.Retired {
			if r.ID() == v.KeyID() {
				key = r
				f.IO.Warnf("vault %q is locked with retired %s key %s; re-wrap it under the current key %s with: keysmith vault rotate-master", v.Path(), v.Env(), r.ID(), res.Current.ID())
				break
			}
		}
	}
	if err := v.UnlockStretched(f.Ctx(), key, pre); err != nil {
		if errors.Is(err, vault.ErrWrongKey) {
			return nil, WithHint(err,
				fmt.Sprintf("the %s key came from %s; select the key with ID %s (KEYSMITH_MASTER_KEY, --key-file, --key-command)", v.Env(), res.Source, v.KeyID()),
				"if the vault was re-keyed, use the new key; keysmith vault info shows the key ID it expects")
		}
		return nil, err
	}
	return res, nil
}

// OpenHint adds hints to the errors of opening the vault named where.
func OpenHint(err error, where string) error {
	switch {
	case errors.Is(err, vault.ErrNoVault):
		return WithHint(err, "create one with: keysmith vault init", "or choose another with --vault or KEYSMITH_VAULT")
	case errors.Is(err, vault.ErrNotVault):
		return WithHint(err, fmt.Sprintf("check --vault and KEYSMITH_VAULT: %q is not a file keysmith created", where),
			"if it was a vault whose first page was destroyed, restore it from a backup with: keysmith vault restore --vault NEW.db BACKUP.age")
	case errors.Is(err, vault.ErrCorrupt):
		return WithHint(err, "restore a damaged vault from a backup with: keysmith vault restore --vault NEW.db BACKUP.age")
	case errors.Is(err, vault.ErrTooNew):
		return WithHint(err, "upgrade keysmith")
	}
	return err
}

// SecretHint adds hints to errors about one secret.
func (f *Factory) SecretHint(err error) error {
	switch {
	case errors.Is(err, vault.ErrNoTenant):
		return WithHint(err, "list tenants with: keysmith vault tenant ls", "add one with: keysmith vault tenant add NAME")
	case errors.Is(err, vault.ErrNotFound):
		return WithHint(err, fmt.Sprintf("list secrets with: keysmith vault ls --tenant %s", f.Config.Tenant))
	case errors.Is(err, vault.ErrTampered):
		return WithHint(err,
			"the vault file was changed outside keysmith, or the row was damaged: the secret cannot be read",
			"restore the vault from a backup made before the change: keysmith vault restore --vault NEW.db BACKUP.age")
	case errors.Is(err, vault.ErrCorrupt), errors.Is(err, vault.ErrNotVault):
		return OpenHint(err, DescribeVault(f.Config.Vault))
	case errors.Is(err, vault.ErrInvalidName):
		return &UsageError{Err: err}
	}
	return err
}

// ReadToken returns the service token of a command: from --token-file,
// --token (warned about), or KEYSMITH_TOKEN; "" when none is given.
func (f *Factory) ReadToken(file, literal string, literalSet bool) (string, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) && strings.HasPrefix(file, vault.TokenPrefix) {
			f.IO.Warnf("a token was given on the command line: it is now in the process list and shell history; revoke it")
			return "", WithHint(Usagef("--token-file takes the name of a file holding the token, not the token"),
				"write the token to a file readable only by the service and pass its name")
		} else if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("--token-file %q: %w", file, ErrNotFound)
		} else if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		if st, err := os.Stat(file); err == nil && st.Mode().Perm()&0o077 != 0 {
			f.IO.Warnf("token file %q is readable by group or others (mode %04o); chmod 600 %q", file, st.Mode().Perm(), file)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", Usagef("--token-file %q is empty", file)
		}
		return tok, nil
	case literalSet:
		f.IO.Warnf("--token puts the service token in the process list and shell history; prefer --token-file or KEYSMITH_TOKEN")
		if strings.TrimSpace(literal) == "" {
			return "", Usagef("--token is empty")
		}
		return strings.TrimSpace(literal), nil
	}
	return strings.TrimSpace(f.Getenv("KEYSMITH_TOKEN")), nil
}

// AccessHint adds what an operator can do to a service-access refusal.
func AccessHint(err error) error {
	var te *vault.TokenError
	var ae *vault.AccessError
	switch {
	case errors.As(err, &te) && te.Status == vault.TokenRevoked:
		return WithHint(err, "a revoked token is revoked for good; an operator makes a new one with: keysmith token create --service "+te.Service)
	case errors.As(err, &te) && te.Service != "":
		return WithHint(err, fmt.Sprintf("an operator approves it with: keysmith token approve %s", te.ID))
	case errors.As(err, &te):
		return WithHint(err, "check --token-file or KEYSMITH_TOKEN; an operator makes a token with: keysmith token create --service NAME")
	case errors.As(err, &ae):
		var hints []string
		for _, p := range ae.Problems {
			switch {
			case p.Denied:
				hints = append(hints, fmt.Sprintf("access to %s was %s; an operator can allow it with: keysmith access grant %s %s --tenant %s", p.Name, p.Reason, ae.Service, p.Name, ae.Tenant))
			case strings.HasPrefix(p.Reason, "missing"):
				hints = append(hints, fmt.Sprintf("%s has no value yet; an operator fills it with: keysmith vault put %s --tenant %s", p.Name, p.Name, ae.Tenant))
			}
			if p.Request != 0 {
				hints = append(hints, fmt.Sprintf("an operator approves request %d with: keysmith access approve %d", p.Request, p.Request))
			}
		}
		return WithHint(err, hints...)
	}
	return err
}

var envVarName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

// VaultEnvironment returns the latest version of each live secret of the
// tenant whose name starts with prefix, with the prefix removed, for "run
// --vault"; names that are not variable names are skipped with a warning.
// Each read is audited (detail "run"). Before it decrypts or audits any,
// it checks that the secrets fit in a command's environment
// (SystemExecLimits) beside other bytes of arguments and variables
// (ExecSize): too many or too large secrets are an error and none is read.
func (f *Factory) VaultEnvironment(tenant, prefix string, other int) (map[string]string, error) {
	if tenant == "" {
		tenant = f.Config.Tenant
	}
	v, err := f.Vault()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	fits := func(sizes []vault.ValueSize) error {
		vars := make(map[string]int, len(sizes))
		secretOf := make(map[string]string, len(sizes))
		for _, s := range sizes {
			if name := strings.TrimPrefix(s.Name, prefix); envVarName().MatchString(name) {
				vars[name], secretOf[name] = s.Size, s.Name
			}
		}
		err := SystemExecLimits().CheckVars(vars, other)
		var big *ExecTooLargeError
		if !errors.As(err, &big) {
			return err
		}
		if big.Var != "" {
			big.What = "vault secret " + secretOf[big.Var]
		} else {
			big.What = fmt.Sprintf("the %d vault secrets of tenant %s", len(vars), tenant)
		}
		return WithHint(fmt.Errorf("%w; none was read", big),
			"choose fewer with --prefix, or give the command exactly the secrets it needs with --schema (docs/service-access.md)")
	}
	secrets, err := v.GetAllChecked(f.Ctx(), tenant, prefix, "run", fits)
	if err != nil {
		return nil, f.SecretHint(err)
	}
	out := make(map[string]string, len(secrets))
	for _, s := range secrets {
		name := strings.TrimPrefix(s.Name, prefix)
		if !envVarName().MatchString(name) {
			if prefix != "" {
				f.IO.Warnf("vault secret %s would be variable %s (without --prefix %s), not a valid environment variable name; not set", s.Name, name, prefix)
			} else {
				f.IO.Warnf("vault secret %s is not a valid environment variable name; not set", s.Name)
			}
			continue
		}
		out[name] = string(s.Value)
		clear(s.Value)
	}
	return out, nil
}

// SetVaultDefaults points Vault and LockedVault at the configured vault,
// for factories built without New (tests).
func (f *Factory) SetVaultDefaults() { f.Vault, f.LockedVault = f.unlockedVault, f.openVault }

// NewStore is an empty store made for a new vault: a SQLite file under a
// temporary name until Publish links it into place (a process killed
// before that leaves nothing at the path), or a PostgreSQL schema in place.
type NewStore struct {
	store.Store
	where   string
	pending *sqlite.Store // nil for PostgreSQL
}

// CreateNewStore creates an empty store at where: a new SQLite file (under
// a temporary name) or the schema in a PostgreSQL database.
func CreateNewStore(ctx context.Context, where string) (*NewStore, error) {
	if IsStoreURL(where) {
		st, err := CreateStore(ctx, where)
		if err != nil {
			return nil, err
		}
		return &NewStore{Store: st, where: where}, nil
	}
	p, err := sqlite.CreatePending(ctx, where)
	if err != nil {
		return nil, err
	}
	return &NewStore{Store: p, where: where, pending: p}, nil
}

// IsFile reports whether the new store is a SQLite file.
func (n *NewStore) IsFile() bool { return n.pending != nil }

// Publish closes the store and, for SQLite, moves it into place (never
// over a file that appeared at the path meanwhile).
func (n *NewStore) Publish() error {
	if n.pending == nil {
		return n.Store.Close()
	}
	return n.pending.Publish(context.Background(), n.where)
}

// Discard closes and removes a new store that could not be completed (a
// PostgreSQL schema is left: it holds no vault rows).
func (n *NewStore) Discard() {
	n.Store.Close()
	if n.pending != nil {
		sqlite.Remove(n.pending.Path())
	} else {
		RemoveStore(n.where)
	}
}

// NewVault is a vault CreateVault made, in a NewStore.
type NewVault struct {
	*vault.Vault
	st *NewStore
}

// CreateVault creates the vault --vault names (a new SQLite file, or the
// schema in a PostgreSQL database) for env, unlocked by key. The caller
// fills it, then calls Publish; or Discard on failure. On failure nothing
// is left behind.
func (f *Factory) CreateVault(env string, key masterkey.Key) (*NewVault, error) {
	ctx := f.Ctx()
	st, err := CreateNewStore(ctx, f.Config.Vault)
	if err != nil {
		return nil, err
	}
	v, err := vault.Create(ctx, st.Store, env, key, f.VaultOptions()) // the store itself: the core asserts optional interfaces on it
	if err != nil {
		st.Discard()
		return nil, err
	}
	return &NewVault{Vault: v, st: st}, nil
}

// Publish closes the new vault and, for SQLite, moves it into place.
func (n *NewVault) Publish() error {
	err := n.st.Publish()
	n.Vault.Close()
	return err
}

// Discard closes and removes a new vault that could not be completed.
func (n *NewVault) Discard() {
	n.Vault.Close()
	n.st.Discard()
}

// VaultExists reports whether --vault names an existing vault store (a
// file that exists; for PostgreSQL, a schema that opens).
func (f *Factory) VaultExists() bool {
	where := f.Config.Vault
	if !IsStoreURL(where) {
		_, err := os.Stat(where)
		return !errors.Is(err, fs.ErrNotExist)
	}
	st, err := OpenStore(f.Ctx(), where)
	if err != nil {
		return !errors.Is(err, vault.ErrNoVault)
	}
	st.Close()
	return true
}

// vaultKeyHint explains a missing key for an existing vault: only the key
// the vault was created with (or re-keyed to) opens it, so a new key is no
// remedy; say where the key was looked for and how to bring it here.
func vaultKeyHint(err error, v *vault.Vault, r *keysource.Resolver) error {
	env := v.Env()
	tried := "the configured key sources"
	if loc, lerr := r.Locate(env); lerr == nil {
		tried = loc.Source.String()
	}
	return WithHint(fmt.Errorf("vault %q needs the %s key (ID %s), which is missing: %w", v.Path(), env, v.KeyID(), err),
		fmt.Sprintf("the %s key was looked for in %s; a new key cannot open this vault", env, tried),
		fmt.Sprintf("get the %s key with ID %s from where it is kept: keysmith key import -e %s FILE, or set KEYSMITH_MASTER_KEY or %s", env, v.KeyID(), env, keysource.EnvSysVar))
}
