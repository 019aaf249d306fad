package vault

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/keysource"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/vault"
	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/store/storecopy"
)

// CopyOptions are the inputs of "vault copy".
type CopyOptions struct {
	F    *cmdutil.Factory
	From string
	To   string
}

// NewCmdCopy returns "vault copy".
func NewCmdCopy(f *cmdutil.Factory, runF func(*CopyOptions) error) *cobra.Command {
	opts := &CopyOptions{F: f}
	cmd := &cobra.Command{
		Use:   "copy --from <vault> --to <vault>",
		Short: "Copy a whole vault into a new store (SQLite file or PostgreSQL), verified",
		Long: `Copy everything a vault holds, row for row, into another store: the
tenants, data keys, every version of every secret, devices, device keys,
device secrets, provisioning reports, service tokens, grants, access
requests, stubs and the audit chain. Either side is a SQLite file path or a
postgres:// URL (an empty database, or a schema named by search_path).

Rows are copied as stored, sealed and MACed: the copy is the same vault,
unlocked by the same master key, which is needed to verify it. The
destination must be new or empty: a vault holding anything is refused.
The copy is written in one transaction, then verified like "vault verify"
(every row opens, the audit chain verifies) before success is reported.
Progress is shown on standard error when it is a terminal.

Exit status 3 when the destination does not verify.`,
		Example: `  $ keysmith vault copy --from ~/.local/share/keysmith/vault.db --to 'postgres://keysmith@db.internal/keysmith?sslmode=verify-full'
  $ keysmith vault copy --from 'postgres://keysmith@db.internal/keysmith' --to laptop.db --output json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.From == "" || opts.To == "" {
				return cmdutil.Usagef("--from and --to are both required")
			}
			if opts.From == opts.To {
				return cmdutil.Usagef("--from and --to name the same vault")
			}
			if runF != nil {
				return runF(opts)
			}
			return copyRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.From, "from", "", "vault to copy: a SQLite file or a postgres:// URL")
	cmd.Flags().StringVar(&opts.To, "to", "", "new or empty vault to copy into: a SQLite file or a postgres:// URL")
	return cmd
}

func copyRun(opts *CopyOptions) (err error) {
	f := opts.F
	ctx := f.Ctx()
	from, to := cmdutil.DescribeVault(opts.From), cmdutil.DescribeVault(opts.To)

	// The source, unlocked: the destination is verified with its key, so a
	// missing key fails here, before anything is written.
	srcStore, err := cmdutil.OpenStore(ctx, opts.From)
	if err != nil {
		return cmdutil.OpenHint(err, from)
	}
	src, err := vault.Open(ctx, srcStore, f.VaultOptions())
	if err != nil {
		return cmdutil.OpenHint(err, from)
	}
	defer src.Close()
	if f.Config.EnvFrom != "default" && f.Config.Env != src.Env() {
		return cmdutil.WithHint(
			fmt.Errorf("vault %q belongs to environment %s, but %s selects %s: %w", from, src.Env(), f.Config.EnvFrom, f.Config.Env, vault.ErrWrongEnvironment),
			"vault copy needs no -e: it uses the source vault's environment")
	}
	if _, err := f.UnlockWith(src); err != nil {
		return err
	}
	key, err := vaultKey(f, src)
	if err != nil {
		return err
	}

	dst, err := openOrCreate(f, opts.To)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			dst.finish(false) // a SQLite file made for the copy goes again
		}
	}()

	progress := copyProgress(f)
	var res *vault.VerifyResult
	snap, err := storecopy.Copy(ctx, src.Store(), dst, progress, verifiedCopy(f, key, fmt.Sprintf("the copy in %q", to), &res, fmt.Sprintf("check the source with: keysmith vault verify --vault %s", quoteArg(from)), nil))
	if progress != nil {
		fmt.Fprint(f.IO.ErrOut, "\r\033[K")
	}
	if err != nil {
		if errors.Is(err, storecopy.ErrNotEmpty) {
			return cmdutil.WithHint(fmt.Errorf("vault %q: %w", to, err),
				"copy into a new vault: a new file path, an empty PostgreSQL database, or an empty schema (search_path in the URL)")
		}
		return err
	}
	if err = dst.finish(true); err != nil {
		return err
	}

	counts := map[string]int{
		"tenants": len(snap.Tenants), "data_keys": len(snap.DEKs), "secret_versions": len(snap.Secrets),
		"devices": len(snap.Devices), "device_keys": len(snap.DeviceKeys), "device_secrets": len(snap.DeviceSecrets),
		"reports": len(snap.Reports), "tokens": len(snap.Tokens), "grants": len(snap.Grants),
		"requests": len(snap.Requests), "stubs": len(snap.Stubs), "audit_rows": len(snap.Audit),
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"from": from, "to": to, "env": src.Env(), "rows": snap.Rows(), "copied": counts, "verified": true, "audit": res})
	}
	f.IO.Infof("copied %s (%s, %s, %s, %s, %s) from %q to %q", cmdutil.Plural(snap.Rows(), "row"),
		cmdutil.Plural(len(snap.Tenants), "tenant"), cmdutil.Plural(len(snap.Secrets), "secret version"),
		cmdutil.Plural(len(snap.Devices), "device"), cmdutil.Plural(len(snap.Tokens), "token"),
		cmdutil.Plural(len(snap.Audit), "audit row"), from, to)
	fmt.Fprintf(f.IO.Out, "copy ok: every row opens and agrees with the audit chain (%s verified)\nhead: row %d, MAC %s\n",
		cmdutil.Plural(res.Verified, "audit row"), res.HeadSeq, res.HeadMAC)
	return nil
}

// verifiedCopy is the storecopy.Check of vault copy and of restoring a
// complete backup: before the rows written into the destination commit,
// they open as a vault, unlock with key and verify (every row opens, the
// chain agrees with every row). A problem rolls the write back, so a
// destination is left as it was, never holding a vault that does not
// verify; what names it in errors. *res gets the verification's result; then, when not nil, runs
// on the verified vault in the same transaction.
func verifiedCopy(f *cmdutil.Factory, key masterkey.Key, what string, res **vault.VerifyResult, hint string, then func(context.Context, *vault.Vault) error) storecopy.Check {
	return func(ctx context.Context, st store.Store) error {
		v, err := vault.Open(ctx, st, f.VaultOptions())
		if err != nil {
			return fmt.Errorf("%s does not open: %w", what, err)
		}
		if err := v.Unlock(ctx, key); err != nil {
			return fmt.Errorf("%s does not unlock: %w", what, err)
		}
		r, probs, err := verifyVault(ctx, v)
		if err != nil {
			return err
		}
		if len(probs) > 0 {
			err := fmt.Errorf("%s does not verify: %w: %s: %s", what, vault.ErrTampered, probs[0].What, probs[0].Error)
			return cmdutil.WithHint(err, hint)
		}
		*res = r
		if then != nil {
			return then(ctx, v)
		}
		return nil
	}
}

// vaultKey returns the master key that unlocked v: the environment's
// current key, or the retired one whose ID is the vault's.
func vaultKey(f *cmdutil.Factory, v *vault.Vault) (masterkey.Key, error) {
	res, err := f.Keys(v.Env(), cmdutil.NoCreate)
	if err != nil {
		return masterkey.Key{}, err
	}
	if k, ok := keyWithID(res, v.KeyID()); ok {
		return k, nil
	}
	return masterkey.Key{}, fmt.Errorf("no %s key with ID %s: %w", v.Env(), v.KeyID(), vault.ErrWrongKey)
}

// keyWithID returns the key of res (current or retired) whose ID is id.
func keyWithID(res *keysource.Resolved, id masterkey.ID) (masterkey.Key, bool) {
	for _, k := range append([]masterkey.Key{res.Current}, res.Retired...) {
		if k.ID() == id {
			return k, true
		}
	}
	return masterkey.Key{}, false
}

// destination is the store a copy or a complete restore writes into: an
// existing one, or one made for it (created).
type destination struct {
	store.Store
	created *cmdutil.NewStore
	done    bool
}

// finish closes the destination. A store made for the write is published
// when ok (a SQLite file linked into place), removed otherwise.
func (d *destination) finish(ok bool) error {
	if d.done {
		return nil
	}
	d.done = true
	switch {
	case d.created == nil:
		return d.Store.Close()
	case ok:
		return d.created.Publish()
	}
	d.created.Discard()
	return nil
}

// openOrCreate opens the destination if it exists (the copy then refuses
// it unless it is empty), or creates an empty store there
// (cmdutil.CreateNewStore).
func openOrCreate(f *cmdutil.Factory, where string) (*destination, error) {
	ctx := f.Ctx()
	create := func() (*destination, error) {
		st, err := cmdutil.CreateNewStore(ctx, where)
		if err != nil {
			return nil, err
		}
		return &destination{Store: st.Store, created: st}, nil
	}
	if !cmdutil.IsStoreURL(where) {
		if _, err := os.Stat(where); errors.Is(err, fs.ErrNotExist) {
			return create()
		}
	}
	st, err := cmdutil.OpenStore(ctx, where)
	if err == nil {
		return &destination{Store: st}, nil
	}
	if !cmdutil.IsStoreURL(where) || !errors.Is(err, vault.ErrNoVault) {
		return nil, cmdutil.OpenHint(err, cmdutil.DescribeVault(where))
	}
	return create()
}

// copyProgress reports on standard error when it is a terminal.
func copyProgress(f *cmdutil.Factory) storecopy.Progress {
	if !f.IO.ErrTTY || f.IO.Quiet {
		return nil
	}
	return func(phase string, done, total int) {
		verb := "reading"
		if phase == "write" {
			verb = "writing"
		}
		pct := 100
		if total > 0 {
			pct = done * 100 / total
		}
		fmt.Fprintf(f.IO.ErrOut, "\r\033[Kkeysmith: %s %d of %d rows (%d%%)", verb, done, total, pct)
	}
}

// quoteArg quotes s for a shell command line shown in a hint.
func quoteArg(s string) string { return "'" + s + "'" }
