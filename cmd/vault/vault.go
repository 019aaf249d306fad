// Package vault implements "keysmith vault": the local secrets store of
// pkg/vault (docs/vault.md).
package vault

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// NewCmdVault returns the "vault" group.
func NewCmdVault(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault <command>",
		Short: "Keep secrets in a local encrypted vault, per tenant, versioned and audited",
		Long: `The vault is one SQLite file holding secrets sealed with envelope encryption:
each tenant has a random data key, stored only wrapped under a key derived from
the master key of the vault's environment. Every put adds a version; every read
and write is recorded in a tamper-evident audit chain. The design is in
docs/vault.md.

The vault is --vault, KEYSMITH_VAULT, config "vault", or
$XDG_DATA_HOME/keysmith/vault.db. The tenant is --tenant, KEYSMITH_TENANT,
config "tenant", or "default". The vault records its environment: -e selects
another one only to be told it is the wrong one.`,
		Example: `  $ keysmith vault init -e prod
  $ printf %s "$DB_PASSWORD" | keysmith vault put DB_PASSWORD --description "orders db"
  $ keysmith vault get DB_PASSWORD
  $ keysmith vault ls --tenant acme
  $ keysmith vault audit verify`,
		Args: cmdutil.NoArgsGroup,
		RunE: cmdutil.ShowHelp,
	}
	cmdutil.AddVaultFlags(cmd, true)
	cmd.AddCommand(
		NewCmdInit(f, nil), NewCmdInfo(f, nil),
		NewCmdPut(f, nil), NewCmdGet(f, nil), NewCmdLs(f, nil), NewCmdRm(f, nil), NewCmdHistory(f, nil),
		NewCmdTenant(f),
		NewCmdImportEnv(f, nil), NewCmdExport(f, nil), NewCmdRestore(f, nil), NewCmdCopy(f, nil),
		NewCmdRotateMaster(f, nil), NewCmdRotateDEK(f, nil),
		NewCmdAudit(f, nil), NewCmdVerify(f, nil),
	)
	return cmd
}
