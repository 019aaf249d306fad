// Package vault implements "keysmith vault": the local secrets store of
// pkg/vault (docs/vault.md).
package vault

import (
	"errors"
	"fmt"
	"os/user"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/keysource"
	"github.com/keysmith/keysmith/pkg/vault"
)

// NewCmdVault returns the "vault" group.
func NewCmdVault(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault <command>",
		Short: "Keep secrets in a local encrypted vault, per tenant, versioned and audited",
		Long: `The vault is one SQLite file holding secrets sealed with envelope encryption:
each tenant has a random data key, stored only wrapped under a key derived from
the master key of the vault's environment. Every put adds a version; every read
and write is recorded in a tamper-evident audit chain. The design is in
docs/vault.md.

The vault is --vault, KEYSMITH_VAULT, config "vault", or
$XDG_DATA_HOME/keysmith/vault.db. The tenant is --tenant, KEYSMITH_TENANT,
config "tenant", or "default". The vault records its environment: -e selects
another one only to be told it is the wrong one.`,
		Example: `  $ keysmith vault init -e prod
  $ printf %s "$DB_PASSWORD" | keysmith vault put DB_PASSWORD --description "orders db"
  $ keysmith vault get DB_PASSWORD
  $ keysmith vault ls --tenant acme
  $ keysmith vault audit verify`,
		Args: cmdutil.NoArgsGroup,
		RunE: cmdutil.ShowHelp,
	}
	cmdutil.AddVaultFlags(cmd, true)
	cmd.AddCommand(
		NewCmdInit(f, nil), NewCmdInfo(f, nil),
		NewCmdPut(f, nil), NewCmdGet(f, nil), NewCmdLs(f, nil), NewCmdRm(f, nil), NewCmdHistory(f, nil),
		NewCmdTenant(f),
		NewCmdImportEnv(f, nil), NewCmdExport(f, nil), NewCmdRestore(f, nil),
		NewCmdRotateMaster(f, nil), NewCmdRotateDEK(f, nil),
		NewCmdAudit(f, nil),
	)
	return cmd
}

// Actor is the audit actor of this process: the OS user.
func Actor(f *cmdutil.Factory) string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := f.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

func options(f *cmdutil.Factory) vault.Options {
	return vault.Options{Actor: Actor(f), Now: f.Now, Rand: f.Rand}
}

// OpenVault opens the configured vault without a key and checks that the
// selected environment, if one was selected explicitly, is the vault's.
func OpenVault(f *cmdutil.Factory) (*vault.Vault, error) {
	path := f.Config.Vault
	v, err := vault.Open(path, options(f))
	if err != nil {
		return nil, openHint(err, path)
	}
	if f.Config.EnvFrom != "default" && f.Config.Env != v.Env() {
		v.AuditWrongEnvironment(f.Config.Env, f.Config.EnvFrom)
		v.Close()
		return nil, cmdutil.WithHint(
			fmt.Errorf("vault %q belongs to environment %s, but %s selects %s: %w", path, v.Env(), f.Config.EnvFrom, f.Config.Env, vault.ErrWrongEnvironment),
			fmt.Sprintf("the vault needs no -e: it unlocks with the %s key; or choose another vault with --vault", v.Env()))
	}
	return v, nil
}

func openHint(err error, path string) error {
	switch {
	case errors.Is(err, vault.ErrNoVault):
		return cmdutil.WithHint(err, "create one with: keysmith vault init", "or choose another with --vault or KEYSMITH_VAULT")
	case errors.Is(err, vault.ErrNotVault):
		return cmdutil.WithHint(err, fmt.Sprintf("check --vault and KEYSMITH_VAULT: %q is not a file keysmith created", path),
			"if it was a vault whose first page was destroyed, restore it from a backup with: keysmith vault restore --vault NEW.db BACKUP.age")
	case errors.Is(err, vault.ErrCorrupt):
		return cmdutil.WithHint(err, "restore a damaged vault from a backup with: keysmith vault restore --vault NEW.db BACKUP.age")
	case errors.Is(err, vault.ErrTooNew):
		return cmdutil.WithHint(err, "upgrade keysmith")
	}
	return err
}

// UnlockedVault opens the vault and unlocks it with its environment's key:
// one key resolution and one key derivation per command. A retired key of
// the environment whose ID is the vault's is used too (after "keysmith key
// rotate", until "vault rotate-master").
func UnlockedVault(f *cmdutil.Factory) (*vault.Vault, error) {
	v, err := OpenVault(f)
	if err != nil {
		return nil, err
	}
	if _, err := unlockWith(f, v); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// unlockWith resolves the vault environment's keys and unlocks v. It
// returns the resolved keys: their current key may differ from the vault's
// after a key rotation.
func unlockWith(f *cmdutil.Factory, v *vault.Vault) (*keysource.Resolved, error) {
	res, err := f.Keys(v.Env(), cmdutil.NoCreate)
	if err != nil {
		return nil, err
	}
	key := res.Current
	if key.ID() != v.KeyID() {
		for _, r := range res.Retired {
			if r.ID() == v.KeyID() {
				key = r
				f.IO.Warnf("vault %q is locked with retired %s key %s; re-wrap it under the current key %s with: keysmith vault rotate-master", v.Path(), v.Env(), r.ID(), res.Current.ID())
				break
			}
		}
	}
	if err := v.Unlock(key); err != nil {
		if errors.Is(err, vault.ErrWrongKey) {
			return nil, cmdutil.WithHint(err,
				fmt.Sprintf("the %s key came from %s; select the key with ID %s (KEYSMITH_MASTER_KEY, --key-file, --key-command)", v.Env(), res.Source, v.KeyID()),
				"if the vault was re-keyed, use the new key; keysmith vault info shows the key ID it expects")
		}
		return nil, err
	}
	return res, nil
}

// secretHint adds hints to errors about one secret.
func secretHint(err error, f *cmdutil.Factory, name string) error {
	switch {
	case errors.Is(err, vault.ErrNoTenant):
		return cmdutil.WithHint(err, "list tenants with: keysmith vault tenant ls", "add one with: keysmith vault tenant add NAME")
	case errors.Is(err, vault.ErrNotFound):
		return cmdutil.WithHint(err, fmt.Sprintf("list secrets with: keysmith vault ls --tenant %s", f.Config.Tenant))
	case errors.Is(err, vault.ErrTampered):
		// Not "vault audit verify": the audit chain covers the audit rows,
		// not the secrets, and says "chain ok" for a tampered secret row.
		return cmdutil.WithHint(err,
			"the vault file was changed outside keysmith, or the row was damaged: the secret cannot be read",
			"restore the vault from a backup made before the change: keysmith vault restore --vault NEW.db BACKUP.age")
	case errors.Is(err, vault.ErrCorrupt), errors.Is(err, vault.ErrNotVault):
		return openHint(err, f.Config.Vault)
	case errors.Is(err, vault.ErrInvalidName):
		return &cmdutil.UsageError{Err: err}
	}
	return err
}
