// Package run implements "keysmith run": start a command with decrypted
// values in its environment.
package run

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	schemacmd "github.com/keysmith/keysmith/cmd/schema"
	"github.com/keysmith/keysmith/pkg/secretfile"
)

// RunOptions are the inputs of "keysmith run".
type RunOptions struct {
	F        *cmdutil.Factory
	Files    []string
	Override bool // also --overload, dotenvx's name for it
	NoExpand bool
	Command  []string

	TokenFile string              // with Schema: the service token
	Server    cmdutil.ServerFlags // with Schema: read through a keysmith server
	Schema    string              // secrets.schema.json: exactly its secrets, read as the service

	Vault  bool   // add the vault's secrets (keysmith run --vault)
	Tenant string // vault tenant ("" = --tenant / KEYSMITH_TENANT / default)
	Prefix string // only vault secrets whose names start with it, prefix removed

	KeepKeyEnv bool // pass the key-source variables on to the command

	// Exec replaces the process; tests replace it.
	Exec func(argv0 string, argv, env []string) error
}

// NewCmdRun returns "keysmith run".
func NewCmdRun(f *cmdutil.Factory, runF func(*RunOptions) error) *cobra.Command {
	opts := &RunOptions{F: f, Exec: syscall.Exec}
	cmd := &cobra.Command{
		Use:   "run [-e <env>] [-f <file>]... [--override] [--no-expand] -- <command> [<arg>...]",
		Short: "Run a command with the decrypted values of .env files in its environment",
		Long: `Decrypt the .env files and exec the command with their variables added to its
environment. keysmith replaces itself with the command, so signals and the exit
status are the command's own. Every failure (missing key, wrong environment,
tampered value) happens before the command starts.

Variables already in the environment win, unless --override (or --overload,
its dotenvx name). With several -f files a later file wins over an earlier
one. Without -f, the first of env_<env>.env, .env.<env> and .env in the
current directory is used.

Plaintext values are expanded as Docker Compose does ($VAR, ${VAR},
${VAR:-default}, ${VAR:?error}, ${VAR:+alt}, $$; docs/dotenv.md): a name
resolves to the last earlier variable of the files, in order, then to the
environment (never to keysmith's own KEYSMITH_* variables or key sources).
A decrypted value is never expanded: a password pa$$word reaches the command
exactly. --no-expand turns expansion off. A bare NAME line passes NAME on
from the environment. An unset ${VAR:?error} stops the run, naming the file,
line and variable.

The command never gets keysmith's credentials: KEYSMITH_TOKEN and
KEYSMITH_PASSPHRASE are removed from its environment, and so is every variable
keysmith reads a master key from or is told where to find one:
KEYSMITH_MASTER_KEY, KEYSMITH_KEY_FILE, KEYSMITH_KEY_COMMAND, APP_KEY_SYSVAR
and the variable APP_KEY_SYSVAR names. --keep-key-env passes the key sources
on (for a command that runs keysmith itself). The command still runs as your
user: it can read what you can, including your key file
($XDG_CONFIG_HOME/keysmith/keys) and a local vault.

With --vault, the current version of every secret of the vault tenant
(--tenant, KEYSMITH_TENANT or default) is added too, after any -f files; with
--prefix P only names starting with P, with P removed (APP_DB_URL → DB_URL).
Each read is recorded in the vault's audit trail. The vault is the one from
KEYSMITH_VAULT or config vault, else $XDG_DATA_HOME/keysmith/vault.db. The
secrets must fit in a command's environment (on Linux a quarter of the stack
limit, at most 6 MiB with the arguments, and 128 KiB per variable): that is
checked before any secret is decrypted or audited.

With --schema FILE and a service token (--token-file F or KEYSMITH_TOKEN), the
command gets exactly the secrets the schema declares, read from the vault as
that service; they replace variables of the same name. Every KEYSMITH_*
variable (vault, environment, tenant, token, key sources), APP_KEY_SYSVAR and
the variable it names are removed, so the command is not pointed at a vault or
a key. This is not a sandbox: the command runs as your user and can still read
your key file and vault files and run keysmith with them; only a server
(keysmith serve) on the other side of a process or machine boundary stops
that (docs/security.md). If any secret is missing or not granted, keysmith
lists every one and exits (8 pending approval, 7 refused) without starting the
command. With --vault, a service token (--token-file or KEYSMITH_TOKEN) is
refused: --vault reads as the operator.

With --schema and --server ADDR (or KEYSMITH_SERVER), the schema's secrets
are read through a keysmith server in one GetSecrets call: no master key is
needed and no local vault is ever read, even when the server is down.

Besides the statuses below: 126 when the command exists but cannot be run (not
executable, a directory, not an executable format), as shells use; a command
not on PATH is 5.`,
		Example: `  $ keysmith run -f env_dev.env -- ./server --port 8080
  $ keysmith run -e prod -f env_prod.env --override -- python app.py
  $ keysmith run --vault --tenant acme --prefix APP_ -- ./server
  $ keysmith run --token-file /run/secrets/orders.token --schema secrets.schema.json -- ./orders`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmdutil.Usagef("no command given: keysmith run [flags] -- <command> [<arg>...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Command = args
			if runF != nil {
				return runF(opts)
			}
			return runRun(opts)
		},
	}
	cmd.Flags().StringArrayVarP(&opts.Files, "file", "f", nil, "a .env file to load (repeatable; later files win)")
	cmd.Flags().BoolVar(&opts.Override, "override", false, "let file values replace variables already in the environment")
	cmd.Flags().BoolVar(&opts.Override, "overload", false, "the same as --override (dotenvx's name)")
	cmd.Flags().BoolVar(&opts.NoExpand, "no-expand", false, "pass plaintext values as written, without $VAR expansion")
	cmd.Flags().BoolVar(&opts.Vault, "vault", false, "add the secrets of the local vault")
	cmd.Flags().StringVar(&opts.Tenant, "tenant", "", "vault tenant (with --vault)")
	cmd.Flags().StringVar(&opts.Prefix, "prefix", "", "only vault secrets whose names start with this, prefix removed (with --vault)")
	cmd.Flags().StringVar(&opts.TokenFile, "token-file", "", "file holding the service token (with --schema; or KEYSMITH_TOKEN)")
	cmd.Flags().StringVar(&opts.Schema, "schema", "", "secrets.schema.json: start the command with exactly its secrets, read as the service")
	cmdutil.AddServerFlags(cmd, &opts.Server)
	cmd.Flags().BoolVar(&opts.KeepKeyEnv, "keep-key-env", false, "pass the key-source variables (KEYSMITH_MASTER_KEY, KEYSMITH_KEY_FILE, ...) on to the command")
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func runRun(opts *RunOptions) error {
	f := opts.F
	if !opts.Vault && opts.Prefix != "" {
		return cmdutil.Usagef("--prefix goes with --vault")
	}
	if opts.Schema == "" && opts.Vault && (opts.TokenFile != "" || f.Getenv("KEYSMITH_TOKEN") != "") {
		// Reading as the operator while a service token is at hand would
		// silently read more than the service was granted.
		from := "--token-file"
		if opts.TokenFile == "" {
			from = "KEYSMITH_TOKEN is set, but"
		}
		return cmdutil.WithHint(cmdutil.Usagef("%s --vault reads every secret of the tenant as the vault's operator, not as a service", from),
			"to read as the service: keysmith run --schema secrets.schema.json (with the token)",
			"to read as the operator: unset KEYSMITH_TOKEN and drop --token-file")
	}
	if opts.Schema == "" && opts.TokenFile != "" {
		return cmdutil.Usagef("--token-file goes with --schema")
	}
	if opts.Schema != "" && (opts.Vault || len(opts.Files) > 0) {
		return cmdutil.Usagef("--schema gives the command exactly the schema's secrets: it does not mix with -f or --vault")
	}
	if opts.Schema == "" && opts.Server.Server != "" {
		return cmdutil.Usagef("--server goes with --schema: keysmith run reads exactly a schema's secrets through a server")
	}
	if opts.Schema != "" && opts.KeepKeyEnv {
		return cmdutil.Usagef("--keep-key-env does not go with --schema, which starts the command without keysmith's variables")
	}
	argv0, err := lookPath(opts.Command[0])
	if err != nil {
		return err
	}
	if opts.Schema != "" {
		vars, err := schemacmd.SchemaEnvironment(f, &opts.Server, opts.TokenFile, opts.Schema)
		if err != nil {
			return err
		}
		return execWith(opts, argv0, vars)
	}
	files := opts.Files
	if len(files) == 0 && !opts.Vault {
		path, err := defaultFile(f.Config.Env)
		if err != nil {
			return err
		}
		files = []string{path}
	}
	vars := map[string]string{}
	m, err := f.Matcher()
	if err != nil {
		return err
	}
	r := &secretfile.Resolver{Env: f.ExpansionEnv(), NoExpand: opts.NoExpand}
	for _, path := range files {
		ef, opened, err := f.OpenEnvFile(path)
		if err != nil {
			return err
		}
		for _, v := range opened {
			if !v.Encrypted && v.Value != "" && m.IsSecret(v.Name) {
				f.IO.Warnf("%s:%d: %s is a secret stored in plaintext (encrypt it: keysmith secrets encrypt-file %s)", path, v.Line, v.Name, path)
			}
		}
		resolved, err := cmdutil.ExpandVars(path, r, ef, opened)
		if err != nil {
			return err
		}
		for _, v := range resolved {
			vars[v.Name] = v.Value
		}
	}
	if opts.Vault {
		// What the command gets besides the vault's secrets, at most: the
		// check before any secret is read (issue: 100,000 secrets were
		// decrypted and audited before exec said "argument list too long").
		other := len(argv0) + 1 + cmdutil.ExecSize(opts.Command...) + cmdutil.ExecSize(os.Environ()...)
		for k, v := range vars {
			other += cmdutil.ExecSize(k + "=" + v)
		}
		fromVault, err := f.VaultEnvironment(opts.Tenant, opts.Prefix, other)
		if err != nil {
			return err
		}
		for k, v := range fromVault {
			vars[k] = v
		}
	}
	return execWith(opts, argv0, vars)
}

// execWith replaces keysmith with the command; it returns only on failure.
func execWith(opts *RunOptions, argv0 string, vars map[string]string) error {
	for k, v := range vars {
		if strings.IndexByte(v, 0) >= 0 {
			return cmdutil.Usagef("%s holds a NUL byte, which no environment variable can carry", k)
		}
	}
	drop := append([]string{}, keysmithCredentials...)
	if !opts.KeepKeyEnv {
		drop = append(drop, KeySourceVars(opts.F.Getenv)...)
	}
	environ := Without(os.Environ(), drop)
	override := opts.Override
	if opts.Schema != "" {
		// Exactly the schema's secrets, and nothing that points the command
		// at a vault, tenant, environment or key; the vault's values win over
		// the environment.
		environ = slices.DeleteFunc(environ, func(kv string) bool { return strings.HasPrefix(kv, "KEYSMITH_") })
		override = true
	}
	env := Merge(environ, vars, override)
	if err := cmdutil.SystemExecLimits().CheckExec(argv0, opts.Command, env); err != nil {
		return err
	}
	err := opts.Exec(argv0, opts.Command, env)
	if errors.Is(err, syscall.ENOEXEC) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EISDIR) {
		return cannotRun(opts.Command[0], err)
	}
	return fmt.Errorf("starting %q: %w", opts.Command[0], err)
}

// ExitCannotRun is the status of "run" for a command that exists but cannot be
// executed: 126, as shells and env(1) use (docs/exit-codes.md).
const ExitCannotRun = 126

// lookPath finds the command. One that does not exist is not found (exit 5);
// one that exists but is not executable (mode, a directory) is exit 126.
func lookPath(name string) (string, error) {
	argv0, err := exec.LookPath(name)
	if err == nil {
		return argv0, nil
	}
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return "", cmdutil.WithHint(fmt.Errorf("%q: %w", name, cmdutil.ErrNotFound), "is it installed and on PATH?")
	}
	return "", cannotRun(name, err)
}

func cannotRun(name string, err error) error {
	var reason string
	hint := ""
	st, serr := os.Stat(name)
	switch {
	case serr == nil && st.IsDir():
		reason = "is a directory"
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EACCES):
		reason = "permission denied"
		hint = fmt.Sprintf("make it executable: chmod +x %q", name)
	case errors.Is(err, syscall.ENOEXEC):
		reason = "not an executable format (a script needs a #! line)"
	default:
		reason = err.Error()
	}
	e := &cmdutil.Error{Err: fmt.Errorf("%q cannot be run: %s", name, reason), Code: ExitCannotRun}
	if hint != "" {
		e.Hints = []string{hint}
	}
	return e
}

// keysmithCredentials are variables that let a process act as keysmith: a
// service token, a backup or device passphrase. The command keysmith starts
// gets plaintext values, never these.
var keysmithCredentials = []string{"KEYSMITH_TOKEN", "KEYSMITH_PASSPHRASE"}

// KeySourceVars are the variables keysmith reads a master key from or that
// tell it where one is (docs/keys.md): KEYSMITH_MASTER_KEY, KEYSMITH_KEY_FILE,
// KEYSMITH_KEY_COMMAND, APP_KEY_SYSVAR and the variable APP_KEY_SYSVAR names.
func KeySourceVars(getenv func(string) string) []string {
	names := []string{"KEYSMITH_MASTER_KEY", "KEYSMITH_KEY_FILE", "KEYSMITH_KEY_COMMAND", "APP_KEY_SYSVAR"}
	if named := getenv("APP_KEY_SYSVAR"); named != "" && !strings.ContainsAny(named, "=/") {
		names = append(names, named)
	}
	return names
}

// Without returns environ less the named variables.
func Without(environ, names []string) []string {
	out := environ[:0:0]
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, k) {
			out = append(out, kv)
		}
	}
	return out
}

// Merge adds vars to environ. Existing variables win unless override.
func Merge(environ []string, vars map[string]string, override bool) []string {
	out := make([]string, 0, len(environ)+len(vars))
	have := map[string]bool{}
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := vars[k]; ok && override {
			continue
		}
		have[k] = true
		out = append(out, kv)
	}
	names := make([]string, 0, len(vars))
	for k := range vars {
		if !have[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		out = append(out, k+"="+vars[k])
	}
	return out
}

func defaultFile(env string) (string, error) {
	candidates := []string{"env_" + env + ".env", ".env." + env, ".env"}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	wd, _ := os.Getwd()
	return "", cmdutil.WithHint(fmt.Errorf("no .env file in %s (looked for %s): %w", filepath.Base(wd), strings.Join(candidates, ", "), cmdutil.ErrNotFound),
		"name one with -f FILE")
}
