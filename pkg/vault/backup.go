package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
)

// BackupFormat is the "format" field of a values-only backup (vault export
// --format v1). The complete backup, every row as stored, is
// storecopy.BackupFormat (v2).
const BackupFormat = "keysmith-vault-backup/v1"

// Backup is the plaintext content of a vault export: every version of every
// secret of every tenant. It is only ever written encrypted (see the export
// command); the audit trail stays with the vault it describes, and so do
// devices and service access (NotInBackup counts them).
type Backup struct {
	Format     string         `json:"format"`
	Env        string         `json:"env"`
	VaultID    string         `json:"vault_id"`
	ExportedAt string         `json:"exported_at"`
	ExportedBy string         `json:"exported_by"`
	Tenants    []BackupTenant `json:"tenants"`
}

// BackupTenant is one tenant of a backup.
type BackupTenant struct {
	Name    string         `json:"name"`
	Secrets []BackupSecret `json:"secrets"`
}

// BackupSecret is one version of a secret in a backup.
type BackupSecret struct {
	Name        string `json:"name"`
	Version     int    `json:"version"`
	Value       []byte `json:"value"` // base64 in JSON
	Description string `json:"description,omitempty"`
	CreatedAt   string `json:"created_at"`
	CreatedBy   string `json:"created_by"`
	DeletedAt   string `json:"deleted_at,omitempty"`
}

// Export reads every version of every secret, opened, into a Backup. The
// export is audited.
func (v *Vault) Export(ctx context.Context) (*Backup, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var b *Backup
	err := v.update(ctx, func(o *op) error {
		b = &Backup{Format: BackupFormat, Env: v.env, VaultID: fmt.Sprintf("%x", v.vaultID), ExportedAt: o.ts(), ExportedBy: o.caller.Actor}
		ts, err := o.tx.Tenants(o.ctx)
		if err != nil {
			return err
		}
		n := 0
		for _, t := range ts {
			bt := BackupTenant{Name: t.Name, Secrets: []BackupSecret{}}
			var rows []store.Secret
			var last int64
			for {
				page, err := o.tx.SecretsPage(o.ctx, t.ID, last, 1000)
				if err != nil {
					return err
				}
				if len(page) == 0 {
					break
				}
				rows = append(rows, page...)
				last = page[len(page)-1].ID
			}
			sortSecrets(rows)
			for _, r := range rows {
				pt, err := o.open(t, r)
				if err != nil {
					return err
				}
				bt.Secrets = append(bt.Secrets, BackupSecret{Name: r.Name, Version: r.Version, Value: pt, Description: r.Description,
					CreatedAt: r.CreatedAt, CreatedBy: r.CreatedBy, DeletedAt: r.DeletedAt})
				n++
			}
			b.Tenants = append(b.Tenants, bt)
		}
		o.audit(auditRow{Action: "export", Object: v.Path(), Success: true, Detail: fmt.Sprintf("%d tenants, %d versions", len(ts), n)})
		return nil
	})
	if err != nil {
		v.auditFailure(ctx, "export", "", v.Path(), err)
		return nil, err
	}
	return b, nil
}

// sortSecrets orders rows by name (bytewise), then version.
func sortSecrets(rows []store.Secret) {
	slices.SortFunc(rows, func(a, b store.Secret) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
}

// Omitted counts the rows of one kind that the vault holds and a backup
// leaves out.
type Omitted struct {
	What  string `json:"what"` // singular: "device", "service token"
	Count int    `json:"count"`
}

// NotInBackup counts what the vault holds that Export leaves out, in a
// fixed order, listing only the kinds it holds at least one of
// (docs/vault.md, "Backups"; device challenges are not listed: they expire
// within minutes). It reads no secret material and needs no key.
func (v *Vault) NotInBackup(ctx context.Context) ([]Omitted, error) {
	var c store.Counts
	err := v.st.View(ctx, func(tx store.Tx) (err error) {
		c, err = tx.Counts(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []Omitted
	for _, k := range []Omitted{{"device", c.Devices}, {"device key", c.DeviceKeys}, {"device secret", c.DeviceSecrets}, {"device report", c.DeviceReports},
		{"service token", c.Tokens}, {"grant", c.Grants}, {"access request", c.Requests}, {"stub", c.OpenStubs}} {
		if k.Count > 0 {
			out = append(out, k)
		}
	}
	return out, nil
}

// WriteTo writes the backup as JSON.
func (b *Backup) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	enc := json.NewEncoder(cw)
	enc.SetEscapeHTML(false)
	err := enc.Encode(b)
	return cw.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadBackup parses a backup written by WriteTo.
func ReadBackup(r io.Reader) (*Backup, error) {
	var b Backup
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("reading backup: %w", err)
	}
	if b.Format != BackupFormat {
		return nil, fmt.Errorf("reading backup: unknown format %q", b.Format)
	}
	for _, t := range b.Tenants {
		if !ValidTenant(t.Name) {
			return nil, fmt.Errorf("reading backup: %w: tenant %q", ErrInvalidName, t.Name)
		}
		for _, s := range t.Secrets {
			if !ValidName(s.Name) || s.Version <= 0 {
				return nil, fmt.Errorf("reading backup: %w: secret %q version %d", ErrInvalidName, s.Name, s.Version)
			}
		}
	}
	return &b, nil
}

// Restore loads a backup into this vault, which must hold no secrets, in one
// transaction. Missing tenants are created; every value is sealed afresh
// under this vault's data keys, keeping names, versions and metadata.
func (v *Vault) Restore(ctx context.Context, b *Backup) (int, error) {
	if err := v.mustUnlocked(); err != nil {
		return 0, err
	}
	n := 0
	err := v.update(ctx, func(o *op) error {
		n = 0
		c, err := o.tx.Counts(o.ctx)
		if err != nil {
			return err
		}
		if c.SecretVersions > 0 {
			return fmt.Errorf("%w: %d versions stored", ErrNotEmpty, c.SecretVersions)
		}
		for _, bt := range b.Tenants {
			t, err := o.tenant(bt.Name)
			if errors.Is(err, ErrNoTenant) {
				t, err = o.addTenant(bt.Name)
			}
			if err != nil {
				return err
			}
			dek, err := o.sealingDEK(t) // dekstate.go
			if err != nil {
				return err
			}
			for _, s := range bt.Secrets {
				sealed, err := keyring.SealValue(dek, t.ID, s.Name, s.Version, t.DEKVersion, s.Value)
				if err != nil {
					return err
				}
				if err := o.tx.InsertSecret(o.ctx, store.Secret{TenantID: t.ID, Name: s.Name, Version: s.Version, DEKVersion: t.DEKVersion, Sealed: sealed,
					Description: s.Description, CreatedAt: s.CreatedAt, CreatedBy: s.CreatedBy, DeletedAt: s.DeletedAt}); err != nil {
					return fmt.Errorf("restoring %s version %d: %w", s.Name, s.Version, err)
				}
				n++
			}
		}
		o.audit(auditRow{Action: "restore", Object: v.Path(), Success: true,
			Detail: fmt.Sprintf("%d versions from vault %s exported at %s by %s", n, b.VaultID, b.ExportedAt, b.ExportedBy)})
		return nil
	})
	if err != nil {
		v.auditFailure(ctx, "restore", "", v.Path(), err)
		return 0, err
	}
	return n, nil
}
