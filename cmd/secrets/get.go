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
	F    *cmdutil.Factory
	File string
	Name string
}

// NewCmdGet returns "secrets get".
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	opts := &GetOptions{F: f}
	return &cobra.Command{
		Use:   "get <file> <NAME>",
		Short: "Print one variable of a .env file, decrypted",
		Long: `Print the value of one variable, decrypted if it is encrypted, exactly as
stored (a newline is added only on a terminal). When a name is defined twice
the last definition counts, as in a shell.`,
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
	if f.JSON() {
		return f.PrintJSON(struct {
			Name string `json:"name"`
			cmdutil.SecretValue
			Encrypted bool `json:"encrypted"`
		}{e.Name, cmdutil.NewSecretValue(pt), value.IsEncrypted(e.Value)})
	}
	return writePlain(f, pt)
}
