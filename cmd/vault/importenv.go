package vault

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/secretfile"
	"github.com/keysmith/keysmith/pkg/value"
	"github.com/keysmith/keysmith/pkg/vault"
)

// ImportEnvOptions are the inputs of "vault import-env".
type ImportEnvOptions struct {
	F           *cmdutil.Factory
	File        string
	Description string
}

// NewCmdImportEnv returns "vault import-env".
func NewCmdImportEnv(f *cmdutil.Factory, runF func(*ImportEnvOptions) error) *cobra.Command {
	opts := &ImportEnvOptions{F: f}
	cmd := &cobra.Command{
		Use:   "import-env <file> [--description <text>]",
		Short: "Store every variable of a .env file in the vault",
		Long: `Store each variable of a .env file as a new version of the secret of the same
name, in the selected tenant, all in one transaction: all land or none.
Encrypted values (<ENV>_ENC:...) are opened with the master keys of the
vault's environment first. Secret names (*_SECRET and config secret_patterns)
whose value is plain text in the file are stored, with a warning: the file
should not keep them.

A file whose name declares an environment (env_prod.env, .env.prod) is
imported only into a vault of that environment; another vault refuses it
(exit 4), as the file commands refuse it with another -e.`,
		Example: `  $ keysmith vault import-env env_dev.env
  $ keysmith vault import-env --tenant acme provisioning.env`,
		Args: cmdutil.ExactArgs(1, "file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return importEnvRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Description, "description", "", "description of every imported secret (default: \"imported from <file>\")")
	return cmd
}

func importEnvRun(opts *ImportEnvOptions) error {
	f := opts.F
	ef, err := cmdutil.ReadEnvFile(opts.File)
	if err != nil {
		return err
	}
	m, err := f.Matcher()
	if err != nil {
		return err
	}
	v, err := f.LockedVault()
	if err != nil {
		return err
	}
	defer v.Close()
	// The rule of the file commands (cmdutil.FileEnv): a file named for an
	// environment belongs to it, so env_prod.env never lands in a dev vault.
	if named, ok := secretfile.EnvFromFilename(opts.File); ok && named != v.Env() {
		return cmdutil.WithHint(
			fmt.Errorf("%q is named for environment %s, but vault %q belongs to environment %s: %w", opts.File, named, v.Path(), v.Env(), vault.ErrWrongEnvironment),
			fmt.Sprintf("import it into a %s vault with --vault, or rename the file if it is meant for %s", named, v.Env()))
	}
	res, err := f.UnlockWith(v)
	if err != nil {
		return err
	}
	kr, err := f.KeyringFor(res) // opens legacy Fernet values too
	if err != nil {
		return err
	}
	desc := opts.Description
	if desc == "" {
		desc = "imported from " + filepath.Base(opts.File)
	}
	var items []vault.Item
	var plain []string
	for _, e := range ef.Entries() {
		if e.Inherit {
			continue // a bare NAME line holds no value (docs/dotenv.md)
		}
		val := []byte(e.Value)
		if value.IsEncrypted(e.Value) {
			pt, err := kr.Open(e.Value, e.Name)
			if err != nil {
				return cmdutil.EntryHint(opts.File, &secretfile.EntryError{Name: e.Name, Line: e.Line, Err: err})
			}
			val = pt
		} else if m.IsSecret(e.Name) && e.Value != "" {
			plain = append(plain, e.Name)
		}
		if !vault.ValidName(e.Name) {
			return cmdutil.Usagef("%s:line %d: %q is not a valid secret name", opts.File, e.Line, e.Name)
		}
		if int64(len(val)) > f.MaxValueSize() {
			return f.TooLarge(fmt.Sprintf("%s:line %d: the value of %s", opts.File, e.Line, e.Name))
		}
		items = append(items, vault.Item{Name: e.Name, Value: val, Description: desc})
	}
	if len(items) == 0 {
		return cmdutil.Usagef("%q has no variables", opts.File)
	}
	for _, n := range plain {
		f.IO.Warnf("%s is a secret name but its value is plain text in %q; now that it is in the vault, remove it from the file", n, opts.File)
	}
	prog := newProgress(f, "importing")
	vers, err := v.PutMany(f.Ctx(), f.Config.Tenant, items, prog.update)
	prog.done()
	if err != nil {
		return f.SecretHint(err)
	}
	if f.JSON() {
		out := make([]map[string]any, len(items))
		for i, it := range items {
			out[i] = map[string]any{"tenant": f.Config.Tenant, "name": it.Name, "version": vers[i]}
		}
		return f.PrintJSON(out)
	}
	f.IO.Infof("imported %s from %q into tenant %s", cmdutil.Plural(len(items), "secret"), opts.File, f.Config.Tenant)
	return nil
}

// progress draws "<what> n/total" on a terminal's stderr.
type progress struct {
	f     *cmdutil.Factory
	what  string
	shown bool
	last  int
}

func newProgress(f *cmdutil.Factory, what string) *progress { return &progress{f: f, what: what} }

func (p *progress) update(done, total int) {
	if !p.f.IO.ErrTTY || p.f.IO.Quiet || total < 100 {
		return
	}
	pct := done * 100 / total
	if pct == p.last && done != total {
		return
	}
	p.last, p.shown = pct, true
	const width = 30
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < pct*width/100 {
			bar[i] = '='
		}
	}
	fmt.Fprintf(p.f.IO.ErrOut, "\r%s [%s] %d/%d", p.what, bar, done, total)
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprintln(p.f.IO.ErrOut)
	}
}
