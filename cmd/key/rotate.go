package key

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/keysource"
	"github.com/keysmith/keysmith/pkg/masterkey"
)

// RotateOptions are the inputs of "key rotate".
type RotateOptions struct {
	F   *cmdutil.Factory
	Env string
}

// NewCmdRotate returns "key rotate".
func NewCmdRotate(f *cmdutil.Factory, runF func(*RotateOptions) error) *cobra.Command {
	opts := &RotateOptions{F: f}
	return &cobra.Command{
		Use:   "rotate [--env <env>] [--key-file <file>]",
		Short: "Replace an environment's key, keeping the old one as a retired key",
		Long: `Generate a new current key for the environment in the key file. The old key stays
in the file as "<env>.retired = ..." (written in the same atomic update, before
anything is re-encrypted), so every existing value still opens. Then:

  1. keysmith secrets rekey <file>...          move values to the new key
  2. keysmith key retire --key-id <old> <file>... remove the old key once unused`,
		Example: `  $ keysmith key rotate --env prod --key-file prod.keys
  keysmith: prod: new key 7d1e... ; old key 3f9c... is now retired`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Env = f.Config.Env
			if runF != nil {
				return runF(opts)
			}
			return rotateRun(opts)
		},
	}
}

func rotateRun(opts *RotateOptions) error {
	f := opts.F
	res, err := f.Keys(opts.Env, cmdutil.NoCreate)
	if err != nil {
		return err
	}
	if res.File == nil {
		old := "OLD_KEY"
		if v := strings.TrimSpace(f.Getenv(keysource.EnvSysVar)); v != "" && !filepath.IsAbs(v) {
			old = "OLD_" + v
		}
		return cmdutil.WithHint(fmt.Errorf("the %s key comes from %s, not a key file: keysmith can only rotate keys in key files", opts.Env, res.Source),
			fmt.Sprintf("rotate it where it is kept: make a new key (keysmith key generate -e %s --key-file new.keys; keysmith key export -e %s --key-file new.keys --bare),", opts.Env, opts.Env),
			fmt.Sprintf("keep the old key in %s and put the new one in its place, then: keysmith secrets rekey -e %s --from-key-env %s FILE... (docs/keys.md)", old, opts.Env, old))
	}
	nk, err := masterkey.Generate(f.Rand)
	if err != nil {
		return err
	}
	// Rotate on the file as it is under the lock, not as it was read: a key
	// another process added meanwhile is kept.
	var old masterkey.Key
	if _, err := keysource.Update(res.Path, func(kf *masterkey.File) (err error) {
		old, err = kf.Rotate(opts.Env, nk)
		return err
	}); err != nil {
		return err
	}
	if f.JSON() {
		return f.PrintJSON(map[string]string{"env": opts.Env, "key_id": nk.ID().String(), "retired_key_id": old.ID().String(), "file": res.Path})
	}
	f.IO.Infof("%s: new key %s; old key %s is now retired (still opens existing values)", opts.Env, nk.ID(), old.ID())
	f.IO.Infof("next: keysmith secrets rekey -e %s FILE..., then keysmith key retire -e %s --key-id %s FILE...", opts.Env, opts.Env, old.ID())
	return nil
}
