package access

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// NewCmdRevoke returns "access revoke".
func NewCmdRevoke(f *cmdutil.Factory, runF func(*GrantOptions) error) *cobra.Command {
	opts := &GrantOptions{F: f}
	return &cobra.Command{
		Use:   "revoke <SERVICE> <NAME> [--tenant <tenant>]",
		Short: "Stop a service from reading a secret",
		Long: `Revoke SERVICE's grant of NAME in the tenant: its reads of NAME exit 7 and
make no new request, until an operator grants it again. The grant's counters
are kept. A service without an active grant is not found (exit 5).`,
		Example: `  $ keysmith access revoke orders DB_URL --tenant acme`,
		Args:    cmdutil.ExactArgs(2, "SERVICE", "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Service, opts.Name = args[0], args[1]
			if err := checkNames(opts.Service, opts.Name); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return revokeRun(opts)
		},
	}
}

func revokeRun(opts *GrantOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	tenant := f.Config.Tenant
	if err := v.RevokeAccess(f.Ctx(), tenant, opts.Service, opts.Name); err != nil {
		if errors.Is(err, vault.ErrNoRecord) {
			return cmdutil.WithHint(err, "list grants with: keysmith access ls --grants --tenant "+tenant)
		}
		return err
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"tenant": tenant, "service": opts.Service, "name": opts.Name, "status": "revoked"})
	}
	f.IO.Infof("revoked %s from service %s in tenant %s", opts.Name, opts.Service, tenant)
	return nil
}
