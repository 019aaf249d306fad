// Package secrets implements "keysmith secrets": single values and .env files.
package secrets

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// NewCmdSecrets returns the "secrets" group.
func NewCmdSecrets(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets <command>",
		Short: "Encrypt and decrypt config values and .env files",
		Long: `Encrypt single values, and the secret values of .env files, as environment-prefixed
ciphertexts: DEV_ENC:..., INT_ENC:..., PROD_ENC:... A value sealed for one
environment never opens in another. Names ending in _SECRET (and the patterns
in config secret_patterns) are secrets. The format is in docs/format.md.`,
		Args: cmdutil.NoArgsGroup,
		RunE: cmdutil.ShowHelp,
	}
	cmd.AddCommand(
		NewCmdEncrypt(f, nil), NewCmdDecrypt(f, nil),
		NewCmdEncryptFile(f, nil), NewCmdDecryptFile(f, nil),
		NewCmdGet(f, nil), NewCmdSet(f, nil), NewCmdLs(f, nil),
		NewCmdCheck(f, nil), NewCmdRekey(f, nil), NewCmdMigrate(f, nil),
	)
	return cmd
}
