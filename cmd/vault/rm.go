package vault

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// RmOptions are the inputs of "vault rm".
type RmOptions struct {
	F     *cmdutil.Factory
	Name  string
	Purge bool
}

// NewCmdRm returns "vault rm".
func NewCmdRm(f *cmdutil.Factory, runF func(*RmOptions) error) *cobra.Command {
	opts := &RmOptions{F: f}
	cmd := &cobra.Command{
		Use:   "rm <NAME> [--purge]",
		Short: "Remove a secret, keeping its history, or purge every version",
		Long: `Remove a secret: it no longer appears in ls or get, but its versions stay in
the history (vault history, vault get --version). A later put brings it back
as a new version. --purge deletes every version for good (the audit trail
keeps the record that it happened).`,
		Example: `  $ keysmith vault rm OLD_TOKEN
  $ keysmith vault rm LEAKED_KEY --purge`,
		Args: cmdutil.ExactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return rmRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Purge, "purge", false, "delete every version instead of keeping the history")
	return cmd
}

func rmRun(opts *RmOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	n, err := v.Remove(f.Ctx(), f.Config.Tenant, opts.Name, opts.Purge)
	if err != nil {
		return f.SecretHint(err)
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"tenant": f.Config.Tenant, "name": opts.Name, "versions": n, "purged": opts.Purge})
	}
	verb := "removed"
	if opts.Purge {
		verb = "purged"
	}
	f.IO.Infof("%s %s (%s) from tenant %s", verb, opts.Name, cmdutil.Plural(n, "version"), f.Config.Tenant)
	return nil
}
