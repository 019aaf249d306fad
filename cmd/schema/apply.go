package schema

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// ServiceOptions are the inputs of "schema apply" and "schema check".
type ServiceOptions struct {
	F       *cmdutil.Factory
	File    string
	Service string
}

func serviceArgs(opts *ServiceOptions) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cmdutil.ExactArgs(1, "schema")(cmd, args); err != nil {
			return err
		}
		opts.File = args[0]
		if opts.Service == "" {
			return cmdutil.Usagef("--service is required")
		}
		if !vault.ValidService(opts.Service) {
			return cmdutil.Usagef("service name %q is not valid: [a-z0-9][a-z0-9_.-]*, at most 63 bytes", opts.Service)
		}
		return nil
	}
}

// NewCmdApply returns "schema apply".
func NewCmdApply(f *cmdutil.Factory, runF func(*ServiceOptions) error) *cobra.Command {
	opts := &ServiceOptions{F: f}
	cmd := &cobra.Command{
		Use:   "apply <schema> --service <name> [--tenant <tenant>]",
		Short: "Record a schema's secrets: stubs for missing ones, access requests for the service",
		Long: `Record every secret the schema declares in the tenant: a stub (name,
description, no value) for each one that does not exist, and a pending access
request for the service for each one it has no grant for. Nothing is
duplicated: applying twice changes nothing. Denied and revoked grants are left
alone. Then an operator fills the stubs ("keysmith vault ls --missing",
"keysmith vault put") and approves the requests ("keysmith access ls
--pending").`,
		Example: `  $ keysmith schema apply secrets.schema.combined.json --service orders --tenant acme`,
		Args:    serviceArgs(opts),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return applyRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Service, "service", "", "the service that needs the secrets")
	return cmd
}

func applyRun(opts *ServiceOptions) error {
	f := opts.F
	s, err := readSchema(opts.File)
	if err != nil {
		return err
	}
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	decls := make([]vault.Declared, len(s.Secrets))
	for i, sec := range s.Secrets {
		decls[i] = vault.Declared{Name: sec.Name, Description: sec.Description}
	}
	res, err := v.DeclareAccess(f.Ctx(), f.Config.Tenant, opts.Service, decls)
	if err != nil {
		return err
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"service": opts.Service, "tenant": f.Config.Tenant, "result": res})
	}
	f.IO.Infof("%s for service %s in tenant %s", declared(s), opts.Service, f.Config.Tenant)
	for _, l := range []struct {
		what  string
		names []string
	}{
		{"new stubs (fill with keysmith vault put)", res.Stubbed},
		{"new access requests", res.Requested},
		{"already pending", res.Pending},
		{"already granted", res.Granted},
		{"denied or revoked (left alone)", res.Denied},
	} {
		if len(l.names) > 0 {
			f.IO.Infof("  %s: %s", l.what, strings.Join(l.names, ", "))
		}
	}
	return nil
}
