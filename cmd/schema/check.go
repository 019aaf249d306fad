package schema

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	vaultcmd "github.com/keysmith/keysmith/cmd/vault"
)

// NewCmdCheck returns "schema check".
func NewCmdCheck(f *cmdutil.Factory, runF func(*ServiceOptions) error) *cobra.Command {
	opts := &ServiceOptions{F: f}
	cmd := &cobra.Command{
		Use:   "check <schema> --service <name> [--tenant <tenant>]",
		Short: "Exit 6 listing every declared secret that is missing or not granted: the gate before a deploy",
		Long: `Check that every secret the schema declares exists in the tenant and is
granted to the service. Each one that is missing, not granted, denied or
revoked is listed on standard output, and the command exits 6. It changes
nothing, reads no secret and needs no key.`,
		Example: `  $ keysmith schema check secrets.schema.combined.json --service orders && ./deploy.sh`,
		Args:    serviceArgs(opts),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return checkRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Service, "service", "", "the service that needs the secrets")
	return cmd
}

func checkRun(opts *ServiceOptions) error {
	f := opts.F
	s, err := readSchema(opts.File)
	if err != nil {
		return err
	}
	v, err := vaultcmd.OpenVault(f)
	if err != nil {
		return err
	}
	defer v.Close()
	tenant := f.Config.Tenant
	probs, err := v.CheckAccess(tenant, opts.Service, s.Names())
	if err != nil {
		return err
	}
	if f.JSON() {
		if err := f.PrintJSON(map[string]any{"service": opts.Service, "tenant": tenant, "ok": len(probs) == 0, "declared": len(s.Secrets), "problems": probs}); err != nil {
			return err
		}
	} else if len(probs) > 0 {
		t := cmdutil.NewTable(f.IO.Out, "NAME", "PROBLEM", "REQUEST")
		for _, p := range probs {
			req := "-"
			if p.Request != 0 {
				req = fmt.Sprint(p.Request)
			}
			t.Row(p.Name, p.Reason, req)
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	if len(probs) > 0 {
		names := make([]string, len(probs))
		for i, p := range probs {
			names[i] = p.Name
		}
		return cmdutil.WithHint(fmt.Errorf("service %s cannot read %d of %s in tenant %s: %s: %w", opts.Service, len(probs), declared(s), tenant, strings.Join(names, ", "), cmdutil.ErrProblems),
			"record them with: keysmith schema apply "+opts.File+" --service "+opts.Service,
			"then fill stubs (keysmith vault ls --missing) and approve requests (keysmith access ls --pending)")
	}
	if !f.JSON() {
		f.IO.Infof("ok: all %s exist and are granted to %s in tenant %s", declared(s), opts.Service, tenant)
	}
	return nil
}
