package vault

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// LsOptions are the inputs of "vault ls".
type LsOptions struct {
	F *cmdutil.Factory
}

// NewCmdLs returns "vault ls".
func NewCmdLs(f *cmdutil.Factory, runF func(*LsOptions) error) *cobra.Command {
	opts := &LsOptions{F: f}
	return &cobra.Command{
		Use:   "ls [--tenant <tenant>]",
		Short: "List secrets: names, versions, when and by whom, never values",
		Long: `List the secrets of the tenant that are not removed: name, latest version,
when and by whom it was written, and description. Values are never shown.`,
		Example: `  $ keysmith vault ls
  $ keysmith vault ls --tenant acme --output json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return lsRun(opts)
		},
	}
}

func lsRun(opts *LsOptions) error {
	f := opts.F
	v, err := UnlockedVault(f)
	if err != nil {
		return err
	}
	defer v.Close()
	list, err := v.List(f.Config.Tenant)
	if err != nil {
		return secretHint(err, f, "")
	}
	return printInfos(f, list)
}

func printInfos(f *cmdutil.Factory, list []vault.SecretInfo) error {
	if f.JSON() {
		return f.PrintJSON(list)
	}
	t := cmdutil.NewTable(f.IO.Out, "NAME", "VERSION", "UPDATED", "BY", "DESCRIPTION")
	for _, s := range list {
		when := s.CreatedAt
		if len(when) >= 19 {
			when = when[:19] + "Z"
		}
		if s.DeletedAt != "" {
			when += " (removed)"
		}
		t.Row(s.Name, fmt.Sprint(s.Version), when, s.CreatedBy, s.Description)
	}
	return t.Flush()
}
