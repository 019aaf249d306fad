package vault

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// HistoryOptions are the inputs of "vault history".
type HistoryOptions struct {
	F    *cmdutil.Factory
	Name string
}

// NewCmdHistory returns "vault history".
func NewCmdHistory(f *cmdutil.Factory, runF func(*HistoryOptions) error) *cobra.Command {
	opts := &HistoryOptions{F: f}
	return &cobra.Command{
		Use:   "history <NAME>",
		Short: "List every version of a secret, never values",
		Long: `List every stored version of a secret, oldest first, including removed ones
(marked "removed"). Values are never shown: read one with vault get --version.`,
		Example: `  $ keysmith vault history DB_PASSWORD`,
		Args:    cmdutil.ExactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return historyRun(opts)
		},
	}
}

func historyRun(opts *HistoryOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	list, err := v.History(f.Ctx(), f.Config.Tenant, opts.Name)
	if err != nil {
		return f.SecretHint(err)
	}
	return printInfos(f, list)
}
