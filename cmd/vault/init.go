package vault

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// InitOptions are the inputs of "vault init".
type InitOptions struct {
	F *cmdutil.Factory
}

// NewCmdInit returns "vault init".
func NewCmdInit(f *cmdutil.Factory, runF func(*InitOptions) error) *cobra.Command {
	opts := &InitOptions{F: f}
	return &cobra.Command{
		Use:   "init [-e <env>] [--vault <file>]",
		Short: "Create a new vault for an environment",
		Long: `Create a new, empty vault (file mode 0600, directory 0700) with a "default"
tenant. The vault records the environment and the ID of the environment's
master key: only that key opens it. A vault that exists is never replaced.
A directory that already exists is left as it is, with a warning if group or
others can get into it.

For environment dev with no key anywhere, a dev key is created in the default
key file first; other environments need a key (keysmith key generate).`,
		Example: `  $ keysmith vault init
  $ keysmith vault init -e prod --vault /srv/keysmith/prod.db`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return initRun(opts)
		},
	}
}

func initRun(opts *InitOptions) error {
	f := opts.F
	env, path := f.Config.Env, cmdutil.DescribeVault(f.Config.Vault) // a URL without its password
	res, err := f.Keys(env, cmdutil.CreateDev)
	if err != nil {
		return err
	}
	v, err := f.CreateVault(env, res.Current)
	if err != nil {
		return cmdutil.WithHint(err, "a vault is never replaced: choose another path with --vault, or remove the old one yourself")
	}
	schema := v.SchemaVersion()
	if err := v.Publish(); err != nil {
		return cmdutil.WithHint(err, "a vault is never replaced: choose another path with --vault, or remove the old one yourself")
	}
	if !cmdutil.IsStoreURL(f.Config.Vault) {
		warnOpenDir(f, f.Config.Vault)
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"vault": path, "env": env, "key_id": res.Current.ID().String(), "schema_version": schema})
	}
	f.IO.Infof("created vault %q for environment %s (key ID %s)", path, env, res.Current.ID())
	return nil
}

// warnOpenDir warns when the directory of a new vault, which existed before
// (vault.Create makes a missing one 0700 and leaves an existing one alone),
// lets group or others in: they can see the vault and its WAL come and go,
// and, with write permission, replace them.
func warnOpenDir(f *cmdutil.Factory, path string) {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm()&0o077 == 0 {
		return
	}
	f.IO.Warnf("the vault's directory %q is accessible by group or others (mode %04o); chmod 700 %q", dir, st.Mode().Perm(), dir)
}
