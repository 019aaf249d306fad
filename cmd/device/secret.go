package device

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// NewCmdSecret returns the "device secret" group.
func NewCmdSecret(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret <command>",
		Short: "Keep a device's secrets: AMT and MEBx passwords, Wi-Fi keys, MPS credentials",
		Long: `Device secrets are versioned like vault secrets and sealed under the tenant's
data key, with the tenant, the device ID, the device's hardware UUID and the
secret's name bound in: a sealed value moved to another device or name does
not open. Every read and write is audited.`,
		Args: cmdutil.NoArgsGroup,
		RunE: cmdutil.ShowHelp,
	}
	cmd.AddCommand(NewCmdSecretSet(f, nil), NewCmdSecretGet(f, nil), NewCmdSecretLs(f, nil))
	return cmd
}
