package token

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// LsOptions are the inputs of "token ls".
type LsOptions struct {
	F *cmdutil.Factory
}

// NewCmdLs returns "token ls".
func NewCmdLs(f *cmdutil.Factory, runF func(*LsOptions) error) *cobra.Command {
	opts := &LsOptions{F: f}
	return &cobra.Command{
		Use:   "ls",
		Short: "List service tokens: ID, service, status, last use, never the token",
		Long: `List every service token: its ID, service and version, status (pending,
approved, denied, revoked), when it was created and last used, and how often
it was used (every read that presented it, whatever the outcome). The tokens
themselves are not stored and cannot be shown. No key is needed.`,
		Example: `  $ keysmith token ls
  $ keysmith token ls --output json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return lsRun(opts)
		},
	}
}

func lsRun(opts *LsOptions) error {
	f := opts.F
	v, err := f.LockedVault()
	if err != nil {
		return err
	}
	defer v.Close()
	toks, err := v.Tokens(f.Ctx())
	if err != nil {
		return err
	}
	if f.JSON() {
		return f.PrintJSON(toks)
	}
	t := cmdutil.NewTable(f.IO.Out, "ID", "SERVICE", "VERSION", "STATUS", "CREATED", "LAST USED", "USES")
	for _, tk := range toks {
		ver := tk.ServiceVersion
		if ver == "" {
			ver = "-"
		}
		t.Row(tk.ID, tk.Service, ver, tk.Status, shortTime(tk.CreatedAt), shortTime(tk.LastUsed), fmt.Sprint(tk.UseCount))
	}
	return t.Flush()
}
