// Package token implements "keysmith token": service tokens, created
// pending and approved, denied or revoked by an operator
// (docs/service-access.md).
package token

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// NewCmdToken returns the "token" group.
func NewCmdToken(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token <command>",
		Short: "Create and approve service tokens",
		Long: `A service reads secrets from the vault with its own token:
"keysmith vault get NAME --token-file F". A token is created pending, printed
once, and stored only as its SHA-256 hash; an operator approves, denies or
revokes it. Grants (what the service may read) belong to the service, so a
token can be replaced without granting again: create a new one, approve it,
revoke the old one. See docs/service-access.md.`,
		Example: `  $ keysmith token create --service orders --service-version 2.1.0 > orders.token
  $ keysmith token ls
  $ keysmith token approve 3f2a9c0d1b4e5f60
  $ keysmith token revoke 3f2a9c0d1b4e5f60`,
		Args: cmdutil.NoArgsGroup,
		RunE: cmdutil.ShowHelp,
	}
	cmdutil.AddVaultFlags(cmd, false)
	cmd.AddCommand(NewCmdCreate(f, nil), NewCmdRegister(f, nil), NewCmdLs(f, nil), NewCmdApprove(f, nil), NewCmdDeny(f, nil), NewCmdRevoke(f, nil))
	return cmd
}

// DecideOptions are the inputs of "token approve", "token deny" and
// "token revoke".
type DecideOptions struct {
	F  *cmdutil.Factory
	ID string
}

func newDecideCmd(f *cmdutil.Factory, runF func(*DecideOptions) error, run func(*DecideOptions) error, verb, short, long string) *cobra.Command {
	opts := &DecideOptions{F: f}
	return &cobra.Command{
		Use:     verb + " <ID>",
		Short:   short,
		Long:    long,
		Example: "  $ keysmith token " + verb + " 3f2a9c0d1b4e5f60",
		Args:    cmdutil.ExactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
}

// decide applies one decision to a token and reports it.
func decide(opts *DecideOptions, fn func(*vault.Vault, context.Context, string) (*vault.Token, error), done string) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	t, err := fn(v, f.Ctx(), opts.ID)
	if err != nil {
		switch {
		case errors.Is(err, vault.ErrNoRecord):
			return cmdutil.WithHint(err, "list tokens with: keysmith token ls")
		case errors.Is(err, vault.ErrDecided) && t != nil && t.Status == vault.TokenRevoked:
			return cmdutil.WithHint(err, "a revoked token is revoked for good: create a new one with: keysmith token create --service "+t.Service)
		}
		return err
	}
	if f.JSON() {
		return f.PrintJSON(t)
	}
	f.IO.Infof("%s token %s of service %s", done, t.ID, t.Service)
	return nil
}

func shortTime(s string) string {
	if s == "" {
		return "-"
	}
	return s[:min(19, len(s))] + "Z"
}
