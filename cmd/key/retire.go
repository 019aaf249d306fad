package key

import (
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/dotenv"
	"github.com/keysmith/keysmith/pkg/keysource"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/secretfile"
	"github.com/keysmith/keysmith/pkg/value"
	"github.com/keysmith/keysmith/pkg/vault"
)

// RetireOptions are the inputs of "key retire".
type RetireOptions struct {
	F     *cmdutil.Factory
	Env   string
	KeyID string
	Files []string
}

// NewCmdRetire returns "key retire".
func NewCmdRetire(f *cmdutil.Factory, runF func(*RetireOptions) error) *cobra.Command {
	opts := &RetireOptions{F: f}
	cmd := &cobra.Command{
		Use:   "retire [--env <env>] [--key-id <id>] <file>...",
		Short: "Remove retired keys that no given file still uses",
		Long: `Remove a retired key (--key-id), or all retired keys of the environment, from the
key file, but only if none of the given .env files still holds a value sealed
under it and the vault (--vault, KEYSMITH_VAULT, config, or the default) is not
still locked with it. Values under a removed key can never be opened again, so name every
file that may use the key.`,
		Example: `  $ keysmith key retire -e prod --key-file prod.keys --key-id 3f9c0a6e1b2d4c58 env_prod.env`,
		Args:    cmdutil.MinArgs(1, "file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Env, opts.Files = f.Config.Env, args
			if runF != nil {
				return runF(opts)
			}
			return retireRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.KeyID, "key-id", "", "the retired key to remove (default: all retired keys of the environment)")
	cmd.Flags().String("vault", "", "the vault that must not still use the key (or KEYSMITH_VAULT, config vault)")
	return cmd
}

func retireRun(opts *RetireOptions) error {
	f := opts.F
	res, err := f.Keys(opts.Env, cmdutil.NoCreate)
	if err != nil {
		return err
	}
	if res.File == nil {
		return fmt.Errorf("the %s key comes from %s, not a key file, so it has no retired keys", opts.Env, res.Source)
	}
	var ids []masterkey.ID
	if opts.KeyID != "" {
		id, err := masterkey.ParseID(opts.KeyID)
		if err != nil {
			return &cmdutil.UsageError{Err: err}
		}
		ids = []masterkey.ID{id}
	} else {
		for _, k := range res.Retired {
			ids = append(ids, k.ID())
		}
		if len(ids) == 0 {
			return fmt.Errorf("environment %s has no retired keys in %q: %w", opts.Env, res.Path, cmdutil.ErrNotFound)
		}
	}
	kr, err := f.KeyringFor(res)
	if err != nil {
		return err
	}
	for _, path := range opts.Files {
		ef, err := cmdutil.ReadEnvFile(path)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if uses := secretfile.UsesKey(ef, opts.Env, id); len(uses) > 0 {
				return cmdutil.WithHint(fmt.Errorf("%s:%d: %s is still sealed under key %s (%s in this file)",
					path, uses[0].Line, uses[0].Name, id, cmdutil.Plural(len(uses), "value")),
					fmt.Sprintf("move it first: keysmith secrets rekey -e %s %q", opts.Env, path))
			}
		}
		if err := legacyUses(kr, path, ef, ids); err != nil {
			return err
		}
	}
	if err := vaultUses(f, opts.Env, ids); err != nil {
		return err
	}
	if _, err := keysource.Update(res.Path, func(kf *masterkey.File) error {
		for _, id := range ids {
			if err := kf.Remove(opts.Env, id); err != nil {
				return cmdutil.WithHint(fmt.Errorf("%w: %w", err, cmdutil.ErrNotFound), "see the keys with: keysmith key list")
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if f.JSON() {
		removed := make([]string, len(ids))
		for i, id := range ids {
			removed[i] = id.String()
		}
		return f.PrintJSON(map[string]any{"env": opts.Env, "file": res.Path, "removed_key_ids": removed})
	}
	for _, id := range ids {
		f.IO.Infof("%s: removed retired key %s from %s", opts.Env, id, res.Path)
	}
	return nil
}

// legacyUses refuses to retire a key that opens a legacy (Fernet) value of
// the file: such a token names no key, so each is tried against every key.
// A legacy value that no key opens is refused too: which key it needs is
// unknown, so none may go.
func legacyUses(kr *value.Keyring, path string, ef *dotenv.File, ids []masterkey.ID) error {
	hint := fmt.Sprintf("move it first: keysmith secrets migrate -e %s %q", kr.Env(), path)
	for _, u := range secretfile.LegacyUses(ef, kr) {
		if !u.Opens {
			return cmdutil.WithHint(fmt.Errorf("%s:%d: %s is a legacy value that opens with none of the %s keys, so it is not known which key it needs",
				path, u.Line, u.Name, kr.Env()),
				"check legacy.<env>.salt and kdf_input (docs/legacy.md), or remove the value if it is no longer needed")
		}
		if slices.Contains(ids, u.KeyID) {
			return cmdutil.WithHint(fmt.Errorf("%s:%d: %s is a legacy value that opens only with key %s", path, u.Line, u.Name, u.KeyID), hint)
		}
	}
	return nil
}

// vaultUses refuses to retire a key that still locks the configured vault:
// after "key rotate" the vault keeps the old key until "vault rotate-master".
func vaultUses(f *cmdutil.Factory, env string, ids []masterkey.ID) error {
	v, err := f.OpenVaultAnyEnv()
	if errors.Is(err, vault.ErrNoVault) {
		return nil
	} else if err != nil {
		return cmdutil.WithHint(fmt.Errorf("cannot check whether the vault %q uses the key: %w", cmdutil.DescribeVault(f.Config.Vault), err),
			"name another vault with --vault, or move it away if it is not in use")
	}
	defer v.Close()
	for _, id := range ids {
		if v.Env() == env && v.KeyID() == id {
			return cmdutil.WithHint(fmt.Errorf("the vault %q is still locked with key %s", cmdutil.DescribeVault(f.Config.Vault), id),
				fmt.Sprintf("move it to the current key first: keysmith vault rotate-master -e %s", env))
		}
	}
	return nil
}
