package vault

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// RestoreOptions are the inputs of "vault restore".
type RestoreOptions struct {
	F        *cmdutil.Factory
	File     string
	Identity string
}

// NewCmdRestore returns "vault restore".
func NewCmdRestore(f *cmdutil.Factory, runF func(*RestoreOptions) error) *cobra.Command {
	opts := &RestoreOptions{F: f}
	cmd := &cobra.Command{
		Use:   "restore <file.age> [-i <identity-file>]",
		Short: "Load a backup into a new vault",
		Long: `Decrypt a backup written by vault export (with the age identities in -i, or
the passphrase: KEYSMITH_PASSPHRASE, a hidden prompt or standard input) and
load it, in one transaction, into the vault at --vault. A vault that does not
exist is created for the backup's environment (or the one selected with -e);
a vault that already holds secrets is refused. Values are sealed afresh under
the new vault's keys; names, versions and metadata are kept.`,
		Example: `  $ keysmith vault restore --vault new.db backup.age
  $ keysmith vault restore -i key.txt backup.age`,
		Args: cmdutil.ExactArgs(1, "file.age"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return restoreRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Identity, "identity", "i", "", "age identity file; default: a passphrase")
	return cmd
}

func restoreRun(opts *RestoreOptions) (err error) {
	f := opts.F
	data, err := os.ReadFile(opts.File)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%q: %w", opts.File, cmdutil.ErrNotFound)
	} else if err != nil {
		return err
	}
	var ids []age.Identity
	if opts.Identity != "" {
		fh, err := os.Open(opts.Identity)
		if err != nil {
			return err
		}
		ids, err = age.ParseIdentities(fh)
		fh.Close()
		if err != nil {
			return &cmdutil.UsageError{Err: fmt.Errorf("-i %q: %w", opts.Identity, err)}
		}
	} else {
		pass, err := passphrase(f, false)
		if err != nil {
			return err
		}
		id, err := age.NewScryptIdentity(pass)
		if err != nil {
			return err
		}
		ids = []age.Identity{id}
	}
	r, err := age.Decrypt(bytes.NewReader(data), ids...)
	if err != nil {
		return cmdutil.WithHint(fmt.Errorf("%q does not decrypt: %w: %v", opts.File, cmdutil.ErrAuth, err), "check the passphrase or identity")
	}
	b, err := vault.ReadBackup(io.LimitReader(r, 1<<34))
	if err != nil {
		return fmt.Errorf("%q: %w", opts.File, err)
	}

	path := cmdutil.DescribeVault(f.Config.Vault)
	var v *vault.Vault
	var created *cmdutil.NewVault
	if !f.VaultExists() {
		env := b.Env
		if f.Config.EnvFrom != "default" {
			env = f.Config.Env
		}
		res, err := f.Keys(env, cmdutil.CreateDev)
		if err != nil {
			return err
		}
		if created, err = f.CreateVault(env, res.Current); err != nil {
			return err
		}
		v = created.Vault
		defer func() {
			if err != nil { // leave no half-restored vault behind
				created.Discard()
			}
		}()
	} else {
		if v, err = f.Vault(); err != nil {
			return err
		}
		defer v.Close()
	}
	n, err := v.Restore(f.Ctx(), b)
	if err != nil {
		if errors.Is(err, vault.ErrNotEmpty) {
			return cmdutil.WithHint(fmt.Errorf("vault %q: %w", path, err), "restore into a new vault: --vault NEW.db")
		}
		return err
	}
	env := v.Env()
	if created != nil {
		if err = created.Publish(); err != nil {
			return err
		}
		if !cmdutil.IsStoreURL(f.Config.Vault) {
			warnOpenDir(f, f.Config.Vault)
		}
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"vault": path, "env": env, "tenants": len(b.Tenants), "versions": n})
	}
	f.IO.Infof("restored %s of %s into %q (environment %s)", cmdutil.Plural(n, "version"), cmdutil.Plural(len(b.Tenants), "tenant"), path, env)
	return nil
}
