package key

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// CheckOptions are the inputs of "key check".
type CheckOptions struct {
	F   *cmdutil.Factory
	Env string
}

// CheckResult is what "key check --output json" prints.
type CheckResult struct {
	Env     string   `json:"env"`
	KeyID   string   `json:"key_id"`
	Source  string   `json:"source"`
	Retired []string `json:"retired_key_ids"`
}

// NewCmdCheck returns "key check".
func NewCmdCheck(f *cmdutil.Factory, runF func(*CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{F: f}
	return &cobra.Command{
		Use:   "check [--env <env>]",
		Short: "Say whether the environment's master key resolves, and from where",
		Example: `  $ keysmith key check --env prod
  prod: key ID 3f9c0a6e1b2d4c58 from environment variable KEYSMITH_MASTER_KEY`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Env = f.Config.Env
			if runF != nil {
				return runF(opts)
			}
			return checkRun(opts)
		},
	}
}

func checkRun(opts *CheckOptions) error {
	f := opts.F
	res, err := f.Keys(opts.Env, cmdutil.NoCreate)
	if err != nil {
		return err
	}
	out := CheckResult{Env: opts.Env, KeyID: res.Current.ID().String(), Source: res.Source.String(), Retired: []string{}}
	for _, k := range res.Retired {
		out.Retired = append(out.Retired, k.ID().String())
	}
	if f.JSON() {
		return f.PrintJSON(out)
	}
	_, err = fmt.Fprintf(f.IO.Out, "%s: key ID %s from %s", out.Env, out.KeyID, out.Source)
	if n := len(out.Retired); n > 0 {
		fmt.Fprintf(f.IO.Out, " (%s)", cmdutil.Plural(n, "retired key"))
	}
	fmt.Fprintln(f.IO.Out)
	return err
}
