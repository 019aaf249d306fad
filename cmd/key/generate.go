package key

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/keysource"
)

// GenerateOptions are the inputs of "key generate".
type GenerateOptions struct {
	F   *cmdutil.Factory
	Env string
}

// NewCmdGenerate returns "key generate".
func NewCmdGenerate(f *cmdutil.Factory, runF func(*GenerateOptions) error) *cobra.Command {
	opts := &GenerateOptions{F: f}
	cmd := &cobra.Command{
		Use:   "generate [--env <env>] [--key-file <file>]",
		Short: "Add a fresh random master key for an environment",
		Long: `Generate a random 256-bit master key for an environment and add it to the key
file the environment's key comes from (--key-file, KEYSMITH_KEY_FILE, config
key_file, a key file APP_KEY_SYSVAR names, or $XDG_CONFIG_HOME/keysmith/keys),
created with mode 0600. Refuses if the environment already has a key (use
"keysmith key rotate" to replace one), and if its key comes from somewhere
keysmith cannot write (KEYSMITH_MASTER_KEY, a variable, a key command).`,
		Example: `  $ keysmith key generate --env prod --key-file ./prod.keys
  keysmith: added a key for prod (ID 3f9c0a6e1b2d4c58) to ./prod.keys`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Env = f.Config.Env
			if runF != nil {
				return runF(opts)
			}
			return generateRun(opts)
		},
	}
	return cmd
}

func generateRun(opts *GenerateOptions) error {
	f := opts.F
	loc, err := f.KeyFileFor(opts.Env, "add a key")
	if err != nil {
		return err
	}
	path := loc.Path
	if loc.Source.Kind == keysource.KindDefaultFile {
		if err := keysource.MakeDir(path); err != nil {
			return err
		}
	}
	res, err := keysource.CreateKey(path, opts.Env, f.Rand, false)
	if err != nil {
		if _, ok := err.(*keysource.InsecureError); ok {
			return cmdutil.WithHint(err, fmt.Sprintf("chmod 600 %q", path))
		}
		if errors.Is(err, keysource.ErrKeyExists) {
			return cmdutil.WithHint(err, fmt.Sprintf("to replace a key without losing data: keysmith key rotate --env %s", opts.Env))
		}
		return err
	}
	if f.JSON() {
		return f.PrintJSON(map[string]string{"env": opts.Env, "key_id": res.Current.ID().String(), "file": path})
	}
	f.IO.Infof("added a key for %s (ID %s) to %s", opts.Env, res.Current.ID(), path)
	return nil
}
