package vault

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// TenantOptions are the inputs of "vault tenant add" and "vault tenant ls".
type TenantOptions struct {
	F    *cmdutil.Factory
	Name string
}

// NewCmdTenant returns the "vault tenant" group.
func NewCmdTenant(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenant <command>",
		Short: "Add and list tenants",
		Long: `Tenants partition a vault: each has its own data key, and a secret of one
tenant never opens as another's. "default" is created by vault init.`,
		Args: cmdutil.NoArgsGroup,
		RunE: cmdutil.ShowHelp,
	}
	cmd.AddCommand(NewCmdTenantAdd(f, nil), NewCmdTenantLs(f, nil))
	return cmd
}

// NewCmdTenantAdd returns "vault tenant add".
func NewCmdTenantAdd(f *cmdutil.Factory, runF func(*TenantOptions) error) *cobra.Command {
	opts := &TenantOptions{F: f}
	return &cobra.Command{
		Use:     "add <tenant>",
		Short:   "Add a tenant with its own data key",
		Long:    `Add a tenant. Names are lower case: [a-z0-9][a-z0-9_.-]*, at most 63 bytes.`,
		Example: `  $ keysmith vault tenant add acme`,
		Args:    cmdutil.ExactArgs(1, "tenant"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return tenantAddRun(opts)
		},
	}
}

func tenantAddRun(opts *TenantOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	if err := v.AddTenant(f.Ctx(), opts.Name); err != nil {
		if errors.Is(err, vault.ErrInvalidName) {
			return &cmdutil.UsageError{Err: err}
		}
		return err
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"tenant": opts.Name})
	}
	f.IO.Infof("added tenant %s", opts.Name)
	return nil
}

// NewCmdTenantLs returns "vault tenant ls".
func NewCmdTenantLs(f *cmdutil.Factory, runF func(*TenantOptions) error) *cobra.Command {
	opts := &TenantOptions{F: f}
	return &cobra.Command{
		Use:     "ls",
		Short:   "List tenants with their counts",
		Long:    `List the tenants, with how many secrets and versions each holds. No key is needed.`,
		Example: `  $ keysmith vault tenant ls`,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return tenantLsRun(opts)
		},
	}
}

func tenantLsRun(opts *TenantOptions) error {
	f := opts.F
	v, err := f.LockedVault()
	if err != nil {
		return err
	}
	defer v.Close()
	ts, err := v.Tenants(f.Ctx())
	if err != nil {
		return err
	}
	if f.JSON() {
		return f.PrintJSON(ts)
	}
	t := cmdutil.NewTable(f.IO.Out, "TENANT", "SECRETS", "VERSIONS", "CREATED")
	for _, tn := range ts {
		t.Row(tn.Name, fmt.Sprint(tn.Secrets), fmt.Sprint(tn.Versions), tn.CreatedAt[:min(19, len(tn.CreatedAt))]+"Z")
	}
	return t.Flush()
}
