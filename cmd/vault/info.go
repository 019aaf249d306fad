package vault

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// InfoOptions are the inputs of "vault info".
type InfoOptions struct {
	F *cmdutil.Factory
}

// NewCmdInfo returns "vault info".
func NewCmdInfo(f *cmdutil.Factory, runF func(*InfoOptions) error) *cobra.Command {
	opts := &InfoOptions{F: f}
	return &cobra.Command{
		Use:   "info",
		Short: "Show a vault's schema version, environment, key ID, tenants and counts",
		Long: `Show what the vault says about itself. No key is needed: info is how to find
out which key a vault expects.`,
		Example: `  $ keysmith vault info
  $ keysmith vault info --output json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return infoRun(opts)
		},
	}
}

func infoRun(opts *InfoOptions) error {
	f := opts.F
	v, err := f.LockedVault()
	if err != nil {
		return err
	}
	defer v.Close()
	if err := v.CheckIntegrity(f.Ctx()); err != nil {
		return cmdutil.OpenHint(err, v.Path())
	}
	in, err := v.Info(f.Ctx())
	if err != nil {
		return err
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{
			"vault": in.Path, "schema_version": in.SchemaVersion, "vault_id": in.VaultID, "env": in.Env,
			"key_id": in.KeyID.String(), "created_at": in.CreatedAt, "tenants": in.Tenants, "audit_rows": in.AuditRows,
		})
	}
	w := f.IO.Out
	fmt.Fprintf(w, "vault:           %s\n", in.Path)
	fmt.Fprintf(w, "schema version:  %d\n", in.SchemaVersion)
	fmt.Fprintf(w, "environment:     %s\n", in.Env)
	fmt.Fprintf(w, "key ID:          %s\n", in.KeyID)
	fmt.Fprintf(w, "vault ID:        %s\n", in.VaultID)
	fmt.Fprintf(w, "created:         %s\n", in.CreatedAt)
	fmt.Fprintf(w, "audit rows:      %d\n", in.AuditRows)
	fmt.Fprintln(w)
	t := cmdutil.NewTable(w, "TENANT", "SECRETS", "VERSIONS", "DEK VERSION")
	for _, tn := range in.Tenants {
		t.Row(tn.Name, fmt.Sprint(tn.Secrets), fmt.Sprint(tn.Versions), fmt.Sprint(tn.DEKVersion))
	}
	return t.Flush()
}
