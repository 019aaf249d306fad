package access

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// GrantOptions are the inputs of "access grant" and "access revoke".
type GrantOptions struct {
	F       *cmdutil.Factory
	Service string
	Name    string
}

// NewCmdGrant returns "access grant".
func NewCmdGrant(f *cmdutil.Factory, runF func(*GrantOptions) error) *cobra.Command {
	opts := &GrantOptions{F: f}
	return &cobra.Command{
		Use:   "grant <SERVICE> <NAME> [--tenant <tenant>]",
		Short: "Let a service read a secret",
		Long: `Grant SERVICE the secret NAME in the tenant, approving its pending request if
there is one; this also overrides an earlier deny or revoke. The secret need
not exist yet.`,
		Example: `  $ keysmith access grant orders DB_URL --tenant acme`,
		Args:    cmdutil.ExactArgs(2, "SERVICE", "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Service, opts.Name = args[0], args[1]
			if err := checkNames(opts.Service, opts.Name); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return grantRun(opts)
		},
	}
}

func grantRun(opts *GrantOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	tenant := f.Config.Tenant
	req, err := v.GrantAccess(f.Ctx(), tenant, opts.Service, opts.Name)
	if err != nil {
		return err
	}
	toks, err := v.Tokens(f.Ctx())
	if err != nil {
		return err
	}
	known := false
	for _, t := range toks {
		known = known || t.Service == opts.Service
	}
	if !known {
		f.IO.Warnf("no token exists for service %s: is the name right? (keysmith token ls)", opts.Service)
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"tenant": tenant, "service": opts.Service, "name": opts.Name, "status": "active", "approved_request": req})
	}
	f.IO.Infof("granted %s to service %s in tenant %s", opts.Name, opts.Service, tenant)
	if req != 0 {
		f.IO.Infof("approved its pending request %d", req)
	}
	stubHint(f, v, tenant, opts.Service, opts.Name)
	return nil
}
