package secrets

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/secretfile"
	"github.com/keysmith/keysmith/pkg/value"
)

// GetOptions are the inputs of "secrets get".
type GetOptions struct {
	F        *cmdutil.Factory
	File     string
	Name     string
	NoExpand bool
}

// NewCmdGet returns "secrets get".
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	opts := &GetOptions{F: f}
	cmd := &cobra.Command{
		Use:   "get <file> <NAME> [--no-expand]",
		Short: "Print one variable of a .env file, decrypted",
		Long: `Print the value of one variable, decrypted if it is encrypted, exactly as
stored (a newline is added only on a terminal). When a name is defined twice
the last definition counts, as in a shell.

A plaintext value is expanded as "keysmith run" expands it ($VAR,
${VAR:-default}, ... from earlier variables of the file, then the
environment; docs/dotenv.md), unless --no-expand. A decrypted value is never
expanded. A bare NAME line gives the environment's value.`,
		Example: `  $ keysmith secrets get env_dev.env DB_PASSWORD_SECRET`,
		Args:    cmdutil.ExactArgs(2, "file", "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File, opts.Name = args[0], args[1]
			if runF != nil {
				return runF(opts)
			}
			return getRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.NoExpand, "no-expand", false, "print the value as written, without $VAR expansion")
	return cmd
}

func getRun(opts *GetOptions) error {
	f := opts.F
	ef, err := cmdutil.ReadEnvFile(opts.File)
	if err != nil {
		return err
	}
	e := ef.Lookup(opts.Name)
	if e == nil {
		return cmdutil.WithHint(fmt.Errorf("%q has no variable %s: %w", opts.File, opts.Name, cmdutil.ErrNotFound),
			fmt.Sprintf("list its names with: keysmith secrets ls %q", opts.File))
	}
	if e.Inherit || !opts.NoExpand && e.Expands() {
		return getResolved(opts)
	}
	pt := []byte(e.Value)
	if value.IsEncrypted(e.Value) {
		env, err := f.FileEnv(opts.File)
		if err != nil {
			return err
		}
		kr, err := f.Keyring(env, cmdutil.NoCreate)
		if err != nil {
			return err
		}
		if pt, err = kr.Open(e.Value, e.Name); err != nil {
			return cmdutil.EntryHint(opts.File, &secretfile.EntryError{Name: e.Name, Line: e.Line, Err: err})
		}
	}
	return printValue(f, e.Name, pt, value.IsEncrypted(e.Value))
}

// printValue prints one value: raw bytes, or JSON with --output json.
func printValue(f *cmdutil.Factory, name string, pt []byte, encrypted bool) error {
	if f.JSON() {
		return f.PrintJSON(struct {
			Name string `json:"name"`
			cmdutil.SecretValue
			Encrypted bool `json:"encrypted"`
		}{name, cmdutil.NewSecretValue(pt), encrypted})
	}
	return writePlain(f, pt)
}

// getResolved prints a value that needs the variables before it (expansion)
// or the environment (a bare NAME line): the whole file is opened and
// resolved as "keysmith run" resolves it.
func getResolved(opts *GetOptions) error {
	f := opts.F
	ef, opened, err := f.OpenEnvFile(opts.File)
	if err != nil {
		return err
	}
	r := &secretfile.Resolver{Env: f.ExpansionEnv(), NoExpand: opts.NoExpand}
	vars, err := cmdutil.ExpandVars(opts.File, r, ef, opened)
	if err != nil {
		return err
	}
	var found *secretfile.Var
	for i := range vars {
		if vars[i].Name == opts.Name {
			found = &vars[i]
		}
	}
	if found == nil {
		return cmdutil.WithHint(fmt.Errorf("%q: %s is a bare NAME line and the environment has no %s: %w", opts.File, opts.Name, opts.Name, cmdutil.ErrNotFound),
			fmt.Sprintf("set %s in the environment, or give it a value in the file", opts.Name))
	}
	return printValue(f, found.Name, []byte(found.Value), found.Encrypted)
}
