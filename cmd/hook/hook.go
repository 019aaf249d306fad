// Package hook implements "keysmith hook": the git hook that runs "keysmith
// secrets check --staged" before each commit (docs/pre-commit.md).
package hook

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// NewCmdHook returns the "hook" group.
func NewCmdHook(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hook <command>",
		Short: "Install the git pre-commit hook that checks staged .env files",
		Long: `A git pre-commit hook that runs "keysmith secrets check --staged": a commit whose
staged .env files hold a plaintext secret, a value of another environment or a
value that does not open is refused. See docs/pre-commit.md.`,
		Args: cmdutil.NoArgsGroup,
		RunE: cmdutil.ShowHelp,
	}
	cmd.AddCommand(NewCmdInstall(f, nil))
	return cmd
}
