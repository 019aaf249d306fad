package secrets

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/atomicfile"
	"github.com/keysmith/keysmith/pkg/dotenv"
	"github.com/keysmith/keysmith/pkg/secretfile"
	"github.com/keysmith/keysmith/pkg/value"
)

// EncryptFileOptions are the inputs of "secrets encrypt-file".
type EncryptFileOptions struct {
	F       *cmdutil.Factory
	Files   []string
	DryRun  bool
	Literal bool // seal values that expansion would change as written
}

// FileChanges is the JSON of the commands that rewrite files.
type FileChanges struct {
	File    string              `json:"file"`
	Env     string              `json:"env"`
	Changes []secretfile.Change `json:"changes"`
	Written bool                `json:"written"`
}

// NewCmdEncryptFile returns "secrets encrypt-file".
func NewCmdEncryptFile(f *cmdutil.Factory, runF func(*EncryptFileOptions) error) *cobra.Command {
	opts := &EncryptFileOptions{F: f}
	cmd := &cobra.Command{
		Use:   "encrypt-file <file>... [--dry-run]",
		Short: "Encrypt the plaintext secret values of .env files in place",
		Long: `Encrypt, in place, every secret value that is still plaintext. Every other byte of
the file stays as it was (comments, order, quoting, line endings); a second run
changes nothing. Each value is bound to its variable name. Files are rewritten
atomically and keep their mode.

A file's environment is the selected one (-e, KEYSMITH_ENV, APP_ENV_TYPE,
config), else the one its name declares (env_prod.env, .env.prod), else dev.

A file that already holds values of its environment keeps one key: it is
encrypted only under the key ID those values use (exit 3 otherwise, naming the
key ID and how to get it), and no dev key is created for it.

A decrypted value is never expanded, so encrypting must not change what the
app sees: a secret value that expansion would change (an unquoted or
double-quoted $VAR, ${VAR} or $$, see docs/dotenv.md) is left in plaintext
with a warning. Single-quote it if it is meant literally, or seal it as
written with --literal. "keysmith secrets check" still reports it.`,
		Example: `  $ keysmith secrets encrypt-file env_dev.env
  env_dev.env: API_KEY_SECRET encrypted (line 3)
  $ keysmith secrets encrypt-file --dry-run env_*.env`,
		Args: cmdutil.MinArgs(1, "file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(opts)
			}
			return encryptFileRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "list what would be encrypted and write nothing")
	cmd.Flags().BoolVar(&opts.Literal, "literal", false, "seal values with $VAR, ${VAR} or $$ as written, unexpanded")
	return cmd
}

func encryptFileRun(opts *EncryptFileOptions) error {
	m, err := opts.F.Matcher()
	if err != nil {
		return err
	}
	if err := sameKeyFiles(opts.F, opts.Files); err != nil {
		return err
	}
	next := 0 // rewriteFiles calls change once per file, in order
	return rewriteFiles(opts.F, opts.Files, opts.DryRun, "encrypted", cmdutil.CreateDev,
		func(ef *dotenv.File, kr *value.Keyring) ([]secretfile.Change, error) {
			path := opts.Files[next]
			next++
			changes, kept, err := secretfile.Encrypt(ef, kr, m, opts.Literal)
			for _, k := range kept {
				opts.F.IO.Warnf("%s:%d: %s left in plaintext: expansion changes its value, and a decrypted value is never expanded (single-quote it if it is literal, or use --literal)", path, k.Line, k.Name)
			}
			return changes, err
		})
}

// rewriteFiles reads every file and computes its changes first, then writes
// the changed ones atomically: a bad file stops the run before any file is
// written.
func rewriteFiles(f *cmdutil.Factory, files []string, dry bool, verb string, policy cmdutil.KeyPolicy,
	change func(*dotenv.File, *value.Keyring) ([]secretfile.Change, error)) error {
	// Check every file and resolve every key before taking any lock:
	// creating a first dev key takes the key file's lock, and a bad file
	// must stop the run before a key is created or a file written.
	envs := make([]string, len(files))
	for i, path := range files {
		if _, err := cmdutil.ReadEnvFile(path); err != nil {
			return err
		}
		env, err := f.FileEnv(path)
		if err != nil {
			return err
		}
		envs[i] = env
	}
	rings := make([]*value.Keyring, len(files))
	for i, env := range envs {
		kr, err := f.SealingKeyring(env, policy)
		if err != nil {
			return err
		}
		rings[i] = kr
	}
	// Then read, change and write under the directories' locks, so a
	// concurrent keysmith writing the same file loses nothing.
	if !dry {
		unlock, err := atomicfile.LockDirs(files)
		if err != nil {
			return err
		}
		defer unlock()
	}
	type pending struct {
		file *dotenv.File
		res  FileChanges
	}
	var all []pending
	for i, path := range files {
		ef, err := cmdutil.ReadEnvFile(path)
		if err != nil {
			return err
		}
		changes, err := change(ef, rings[i])
		if err != nil {
			return cmdutil.EntryHint(path, err)
		}
		all = append(all, pending{ef, FileChanges{File: path, Env: envs[i], Changes: nonNil(changes)}})
	}
	results := make([]FileChanges, 0, len(all))
	for _, p := range all {
		if !dry && len(p.res.Changes) > 0 {
			if err := cmdutil.WriteEnvFile(p.res.File, p.file); err != nil {
				return err
			}
			p.res.Written = true
		}
		results = append(results, p.res)
	}
	return printChanges(f, results, dry, verb)
}

func nonNil(c []secretfile.Change) []secretfile.Change {
	if c == nil {
		return []secretfile.Change{}
	}
	return c
}

func printChanges(f *cmdutil.Factory, results []FileChanges, dry bool, verb string) error {
	if f.JSON() {
		return f.PrintJSON(results)
	}
	if dry {
		verb = "would be " + verb
	}
	if f.IO.Quiet && !dry { // -q: the files were written; the report is not data (a dry run's is)
		return nil
	}
	for _, r := range results {
		if len(r.Changes) == 0 {
			if !f.IO.Quiet {
				fmt.Fprintf(f.IO.ErrOut, "%s: nothing to do\n", r.File)
			}
			continue
		}
		for _, c := range r.Changes {
			fmt.Fprintf(f.IO.Out, "%s: %s %s (line %d)\n", r.File, c.Name, verb, c.Line)
		}
	}
	return nil
}
