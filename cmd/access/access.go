// Package access implements "keysmith access": the access requests of
// services and the grants that answer them (docs/service-access.md).
package access

import (
	"context"
	"errors"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// NewCmdAccess returns the "access" group.
func NewCmdAccess(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "access <command>",
		Short: "Approve what services may read: access requests and grants",
		Long: `A service that reads a secret it has no grant for, or declares it in a schema
("keysmith schema apply"), leaves one pending access request. An operator
approves or denies it, or grants and revokes access directly. Grants are per
tenant, service and secret name, and count their reads. Every decision is in
the audit trail. See docs/service-access.md.`,
		Example: `  $ keysmith access ls --pending
  $ keysmith access approve 3
  $ keysmith access grant orders DB_URL --tenant acme
  $ keysmith access revoke orders DB_URL --tenant acme`,
		Args: cmdutil.NoArgsGroup,
		RunE: cmdutil.ShowHelp,
	}
	cmdutil.AddVaultFlags(cmd, true)
	cmd.AddCommand(NewCmdLs(f, nil), NewCmdApprove(f, nil), NewCmdDeny(f, nil), NewCmdGrant(f, nil), NewCmdRevoke(f, nil))
	return cmd
}

// DecideOptions are the inputs of "access approve" and "access deny".
type DecideOptions struct {
	F  *cmdutil.Factory
	ID int64
}

func newDecideCmd(f *cmdutil.Factory, runF func(*DecideOptions) error, run func(*DecideOptions) error, verb, short, long string) *cobra.Command {
	opts := &DecideOptions{F: f}
	return &cobra.Command{
		Use:     verb + " <ID>",
		Short:   short,
		Long:    long,
		Example: "  $ keysmith access " + verb + " 3",
		Args:    cmdutil.ExactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return cmdutil.Usagef("request ID %q is not a number; list requests with: keysmith access ls --pending", args[0])
			}
			opts.ID = id
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
}

func decide(opts *DecideOptions, fn func(*vault.Vault, context.Context, int64) (*vault.AccessRequest, error), done string) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	r, err := fn(v, f.Ctx(), opts.ID)
	if err != nil {
		if errors.Is(err, vault.ErrNoRecord) || errors.Is(err, vault.ErrDecided) {
			return cmdutil.WithHint(err, "list pending requests with: keysmith access ls --pending --tenant TENANT")
		}
		return err
	}
	if f.JSON() {
		return f.PrintJSON(r)
	}
	f.IO.Infof("%s request %d: service %s, secret %s, tenant %s", done, r.ID, r.Service, r.Name, r.Tenant)
	if r.Status == vault.RequestApproved {
		stubHint(f, v, r.Tenant, r.Service, r.Name)
	}
	return nil
}

// stubHint says when a granted secret still has no value.
func stubHint(f *cmdutil.Factory, v *vault.Vault, tenant, service, name string) {
	probs, err := v.CheckAccess(f.Ctx(), tenant, service, []string{name})
	if err == nil && len(probs) == 1 && probs[0].Reason == "missing" {
		f.IO.Infof("%s has no value yet: fill it with: keysmith vault put %s --tenant %s", name, name, tenant)
	}
}

func shortTime(s string) string {
	if s == "" {
		return "-"
	}
	return s[:min(19, len(s))] + "Z"
}

func checkNames(service, name string) error {
	if !vault.ValidService(service) {
		return cmdutil.Usagef("service name %q is not valid: [a-z0-9][a-z0-9_.-]*, at most 63 bytes", service)
	}
	if !vault.ValidName(name) {
		return cmdutil.Usagef("secret name %q is not valid: letters, digits and _.:/@+-, at most 255 bytes", name)
	}
	return nil
}
