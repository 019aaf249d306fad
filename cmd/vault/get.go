package vault

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// GetOptions are the inputs of "vault get".
type GetOptions struct {
	F       *cmdutil.Factory
	Name    string
	Version int
}

// NewCmdGet returns "vault get".
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	opts := &GetOptions{F: f}
	cmd := &cobra.Command{
		Use:   "get <NAME> [--version <N>]",
		Short: "Print a secret",
		Long: `Print the latest version of a secret, or version N, exactly as stored: a
newline is added only when standard output is a terminal. A removed secret is
not found, but its versions can still be read with --version. Every read is
audited.`,
		Example: `  $ keysmith vault get DB_PASSWORD > db.pass
  $ keysmith vault get DB_PASSWORD --version 1 --tenant acme`,
		Args: cmdutil.ExactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if opts.Version < 0 {
				return cmdutil.Usagef("--version must be positive")
			}
			if runF != nil {
				return runF(opts)
			}
			return getRun(opts)
		},
	}
	cmd.Flags().IntVar(&opts.Version, "version", 0, "read this version (default: the latest)")
	return cmd
}

func getRun(opts *GetOptions) error {
	f := opts.F
	v, err := UnlockedVault(f)
	if err != nil {
		return err
	}
	defer v.Close()
	s, err := v.Get(f.Config.Tenant, opts.Name, opts.Version)
	if err != nil {
		return secretHint(err, f, opts.Name)
	}
	defer clear(s.Value)
	if f.JSON() {
		return f.PrintJSON(map[string]any{"tenant": s.Tenant, "name": s.Name, "version": s.Version, "value": string(s.Value),
			"description": s.Description, "updated_at": s.CreatedAt, "updated_by": s.CreatedBy})
	}
	if _, err := f.IO.Out.Write(s.Value); err != nil {
		return err
	}
	if f.IO.OutTTY {
		_, err = f.IO.Out.Write([]byte("\n"))
	}
	return err
}
