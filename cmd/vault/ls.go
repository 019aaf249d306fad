package vault

import (
	"bufio"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// LsOptions are the inputs of "vault ls".
type LsOptions struct {
	F       *cmdutil.Factory
	Missing bool
}

// NewCmdLs returns "vault ls".
func NewCmdLs(f *cmdutil.Factory, runF func(*LsOptions) error) *cobra.Command {
	opts := &LsOptions{F: f}
	cmd := &cobra.Command{
		Use:   "ls [--tenant <tenant>] [--missing]",
		Short: "List secrets: names, versions, when and by whom, never values",
		Long: `List the secrets of the tenant that are not removed: name, latest version,
when and by whom it was written, and description. Values are never shown.

--missing lists the stubs instead: secrets a service asked for (or a schema
declared) that have no value yet, with the services that asked. "vault put"
fills a stub. --missing needs no key.`,
		Example: `  $ keysmith vault ls
  $ keysmith vault ls --tenant acme --output json
  $ keysmith vault ls --missing`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return lsRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Missing, "missing", false, "list stubs: secrets asked for that have no value yet")
	return cmd
}

func lsRun(opts *LsOptions) error {
	f := opts.F
	if opts.Missing {
		return lsMissing(f)
	}
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	list, err := v.List(f.Ctx(), f.Config.Tenant)
	if err != nil {
		return f.SecretHint(err)
	}
	return printInfos(f, list)
}

func printInfos(f *cmdutil.Factory, list []vault.SecretInfo) error {
	if f.JSON() {
		return f.PrintJSON(list)
	}
	out := bufio.NewWriterSize(f.IO.Out, 64<<10) // one write per 64 KiB, not one per cell
	t := cmdutil.NewTable(out, "NAME", "VERSION", "UPDATED", "BY", "DESCRIPTION")
	for _, s := range list {
		when := s.CreatedAt
		if len(when) >= 19 {
			when = when[:19] + "Z"
		}
		if s.DeletedAt != "" {
			when += " (removed)"
		}
		t.Row(s.Name, strconv.Itoa(s.Version), when, s.CreatedBy, s.Description)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	return out.Flush()
}

func lsMissing(f *cmdutil.Factory) error {
	v, err := f.LockedVault()
	if err != nil {
		return err
	}
	defer v.Close()
	stubs, err := v.Stubs(f.Ctx(), f.Config.Tenant)
	if err != nil {
		return f.SecretHint(err)
	}
	if f.JSON() {
		return f.PrintJSON(stubs)
	}
	t := cmdutil.NewTable(f.IO.Out, "NAME", "ASKED BY", "SINCE", "DESCRIPTION")
	for _, s := range stubs {
		asked := strings.Join(s.AskedBy, ",")
		if asked == "" {
			asked = s.RequestedBy
		}
		t.Row(s.Name, asked, s.CreatedAt[:min(19, len(s.CreatedAt))]+"Z", s.Description)
	}
	return t.Flush()
}
