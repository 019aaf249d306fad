package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/vault"
	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/store/storecopy"
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
load it, in one transaction, into the vault at --vault.

A complete backup (format v2, the default of vault export) is every row of a
vault: it restores into a new vault (a file that does not exist, an empty
PostgreSQL database or schema), which becomes that same vault again, opened
by the same master key (the current or a retired key of its environment). The
rows are verified (every row opens, the audit chain agrees with every row) and
the restore is recorded in the chain before anything commits: a backup that
does not verify leaves nothing behind. -e, when given, must name the backup's
environment.

A backup of format v1 holds the secret values only. A vault that does not
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
	// A file that is not age at all gets no passphrase prompt and no
	// "check the passphrase" hint: no passphrase would open it.
	if !cmdutil.IsAge(data) {
		return cmdutil.NotAgeError(opts.File, "backup", "a file written by keysmith vault export")
	}
	var in io.Reader = bytes.NewReader(data)
	if !bytes.HasPrefix(data, []byte("age-encryption.org/")) {
		in = armor.NewReader(bytes.NewReader(bytes.TrimSpace(data)))
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
	r, err := age.Decrypt(in, ids...)
	if err != nil {
		return cmdutil.AgeDecryptError(opts.File, err, "check the passphrase (KEYSMITH_PASSPHRASE) or the identity (-i)")
	}
	plain, err := io.ReadAll(io.LimitReader(r, 1<<34))
	if err != nil {
		return cmdutil.WithHint(fmt.Errorf("%q does not decrypt: %w: %v", opts.File, cmdutil.ErrAuth, err), "the file is damaged or cut short")
	}
	var head struct {
		Format string `json:"format"`
	}
	if json.Unmarshal(plain, &head) == nil && head.Format == storecopy.BackupFormat {
		return restoreComplete(opts, plain)
	}
	b, err := vault.ReadBackup(bytes.NewReader(plain))
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

// restoreComplete restores a v2 backup: its rows go into a new or empty
// store and are verified, with the restore appended to the chain, in the
// write's own transaction.
func restoreComplete(opts *RestoreOptions, plain []byte) (err error) {
	f := opts.F
	ctx := f.Ctx()
	b, err := storecopy.ReadBackup(bytes.NewReader(plain))
	if err != nil {
		return fmt.Errorf("%q: %w", opts.File, err)
	}
	where := f.Config.Vault
	desc := cmdutil.DescribeVault(where)
	if f.Config.EnvFrom != "default" && f.Config.Env != b.Env {
		return cmdutil.WithHint(
			fmt.Errorf("%q is a complete backup of a %s vault, but %s selects %s: %w", opts.File, b.Env, f.Config.EnvFrom, f.Config.Env, vault.ErrWrongEnvironment),
			"a complete backup restores into its own environment: drop -e, or export with --format v1 to move the secret values elsewhere")
	}
	res, err := f.Keys(b.Env, cmdutil.NoCreate)
	if err != nil {
		return err
	}
	want := b.Vault.Meta[store.MetaKeyID]
	var id masterkey.ID
	key, found := masterkey.Key{}, len(want) == len(id)
	if found {
		copy(id[:], want)
		key, found = keyWithID(res, id)
	}
	if !found {
		err := fmt.Errorf("%q is a backup of a vault sealed under %s key ID %x, and no such key is configured (current: %s): %w", opts.File, b.Env, want, res.Current.ID(), vault.ErrWrongKey)
		return cmdutil.WithHint(err, "a complete backup opens only with the master key of the vault it came from (add it as a retired key); to move secrets under another key, export them with --format v1")
	}

	dst, err := openOrCreate(f, where)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			dst.finish(false) // a SQLite file made for the restore goes again
		}
	}()
	var vres *vault.VerifyResult
	record := func(ctx context.Context, v *vault.Vault) error {
		return v.AppendAudit(ctx, "restore", "", desc, true,
			fmt.Sprintf("complete backup of vault %s exported at %s by %s", b.VaultID, b.ExportedAt, b.ExportedBy))
	}
	progress := copyProgress(f)
	err = storecopy.WriteChecked(ctx, dst, b.Vault, progress,
		verifiedCopy(f, key, fmt.Sprintf("the vault restored from %q", opts.File), &vres, "nothing was restored: the backup is damaged; restore an older one, or check the vault it came from with vault verify", record))
	if progress != nil {
		fmt.Fprint(f.IO.ErrOut, "\r\033[K")
	}
	if err != nil {
		if errors.Is(err, storecopy.ErrNotEmpty) {
			return cmdutil.WithHint(fmt.Errorf("vault %q: %w", desc, err),
				"restore a complete backup into a new vault: --vault NEW.db, an empty PostgreSQL database, or an empty schema (search_path in the URL)")
		}
		return err
	}
	if err = dst.finish(true); err != nil {
		return err
	}
	if dst.created != nil && dst.created.IsFile() {
		warnOpenDir(f, where)
	}
	s := b.Vault
	if f.JSON() {
		return f.PrintJSON(map[string]any{"vault": desc, "env": b.Env, "format": storecopy.BackupFormat, "tenants": len(s.Tenants), "versions": len(s.Secrets),
			"rows": s.Rows(), "verified": true, "audit": vres})
	}
	f.IO.Infof("restored %s of %s into %q (environment %s), with every other row of the vault: %s (%s, %s, %s), all verified",
		cmdutil.Plural(len(s.Secrets), "version"), cmdutil.Plural(len(s.Tenants), "tenant"), desc, b.Env,
		cmdutil.Plural(s.Rows(), "row"), cmdutil.Plural(len(s.Devices), "device"), cmdutil.Plural(len(s.Tokens), "token"), cmdutil.Plural(len(s.Audit), "audit row"))
	return nil
}
