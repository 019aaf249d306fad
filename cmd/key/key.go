// Package key implements "keysmith key": generate, list, check, rotate and
// retire master keys.
package key

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// NewCmdKey returns the "key" group.
func NewCmdKey(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key <command>",
		Short: "Manage master keys",
		Long: `Manage the 256-bit master keys, one per environment.

Keys are read, in this order, from --key-file / KEYSMITH_KEY_FILE, KEYSMITH_MASTER_KEY,
the variable named by APP_KEY_SYSVAR, a key command, and the default key file
$XDG_CONFIG_HOME/keysmith/keys. See docs/keys.md.`,
		Args: cmdutil.NoArgsGroup,
		RunE: cmdutil.ShowHelp,
	}
	cmd.AddCommand(NewCmdGenerate(f, nil), NewCmdList(f, nil), NewCmdCheck(f, nil),
		NewCmdRotate(f, nil), NewCmdRetire(f, nil), NewCmdExport(f, nil), NewCmdImport(f, nil))
	return cmd
}
