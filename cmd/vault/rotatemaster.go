package vault

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/keysource"
	"github.com/keysmith/keysmith/pkg/masterkey"
)

// RotateMasterOptions are the inputs of "vault rotate-master".
type RotateMasterOptions struct {
	F          *cmdutil.Factory
	NewKeyEnv  string
	NewKeyFile string
	NewKeyCmd  string
}

// NewCmdRotateMaster returns "vault rotate-master".
func NewCmdRotateMaster(f *cmdutil.Factory, runF func(*RotateMasterOptions) error) *cobra.Command {
	opts := &RotateMasterOptions{F: f}
	cmd := &cobra.Command{
		Use:   "rotate-master [--new-key-env <VAR> | --new-key-file <file> | --new-key-command <cmd>]",
		Short: "Re-wrap the vault's data keys under a new master key",
		Long: `Re-wrap every tenant's data key, and the audit key, under a new master key of
the vault's environment, in one transaction. Secrets are not re-sealed, so the
cost grows with tenants, not secrets. Afterwards the old master key no longer
opens the vault.

The vault is unlocked with its current key, resolved as usual. The new key is
read from the environment variable named by --new-key-env, from the current
key of the environment in --new-key-file, or from --new-key-command. With none
of them, after "keysmith key rotate", the new key is the environment's current
key, and the old one is found among its retired keys.`,
		Example: `  $ NEW_KEY=<new key> keysmith vault rotate-master --new-key-env NEW_KEY
  $ keysmith key rotate -e prod && keysmith vault rotate-master -e prod`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			n := 0
			for _, s := range []string{opts.NewKeyEnv, opts.NewKeyFile, opts.NewKeyCmd} {
				if s != "" {
					n++
				}
			}
			if n > 1 {
				return cmdutil.Usagef("use one of --new-key-env, --new-key-file and --new-key-command")
			}
			if runF != nil {
				return runF(opts)
			}
			return rotateMasterRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.NewKeyEnv, "new-key-env", "", "environment variable holding the new master key")
	cmd.Flags().StringVar(&opts.NewKeyFile, "new-key-file", "", "key file whose current key of the vault's environment is the new key")
	cmd.Flags().StringVar(&opts.NewKeyCmd, "new-key-command", "", "command, run without a shell, that prints the new key")
	return cmd
}

func rotateMasterRun(opts *RotateMasterOptions) error {
	f := opts.F
	v, err := f.LockedVault()
	if err != nil {
		return err
	}
	defer v.Close()
	res, err := f.UnlockWith(v)
	if err != nil {
		return err
	}
	env := v.Env()
	var newKey masterkey.Key
	switch {
	case opts.NewKeyEnv != "":
		s := f.Getenv(opts.NewKeyEnv)
		if s == "" {
			return cmdutil.Usagef("--new-key-env: %s is not set", opts.NewKeyEnv)
		}
		if newKey, err = masterkey.Parse(s); err != nil {
			return &cmdutil.UsageError{Err: fmt.Errorf("--new-key-env %s: %w", opts.NewKeyEnv, err)}
		}
	case opts.NewKeyFile != "", opts.NewKeyCmd != "":
		r := &keysource.Resolver{KeyFile: opts.NewKeyFile, KeyCommand: strings.Fields(opts.NewKeyCmd), Getenv: func(string) string { return "" }, Stderr: f.IO.ErrOut}
		nr, err := r.Resolve(env)
		if err != nil {
			return fmt.Errorf("new key: %w", err)
		}
		newKey = nr.Current
	default:
		if res.Current.ID() == v.KeyID() {
			return cmdutil.WithHint(cmdutil.Usagef("the vault already uses the current %s key (ID %s): no new key given", env, v.KeyID()),
				"give the new key with --new-key-env, --new-key-file or --new-key-command",
				fmt.Sprintf("or rotate the key file first: keysmith key rotate -e %s", env))
		}
		newKey = res.Current
	}
	old := v.KeyID()
	if newKey.ID() == old {
		return cmdutil.Usagef("the new key is the vault's current key (ID %s)", old)
	}
	if err := v.RotateMaster(f.Ctx(), newKey); err != nil {
		return err
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"vault": v.Path(), "env": env, "old_key_id": old.String(), "key_id": newKey.ID().String()})
	}
	f.IO.Infof("vault %q is now locked with %s key %s (was %s)", v.Path(), env, newKey.ID(), old)
	return nil
}
