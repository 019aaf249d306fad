package vault

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
)

// BackupFormat is the "format" field of a backup.
const BackupFormat = "keysmith-vault-backup/v1"

// Backup is the plaintext content of a vault export: every version of every
// secret of every tenant. It is only ever written encrypted (see the export
// command); the audit trail stays with the vault it describes, and so, for
// now, do devices and service access (NotInBackup counts them).
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
func (v *Vault) Export() (*Backup, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	b := &Backup{Format: BackupFormat, Env: v.env, VaultID: fmt.Sprintf("%x", v.vaultID), ExportedAt: v.timestamp(), ExportedBy: v.opts.Actor}
	n := 0
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		rows, err := tx.Query("SELECT id, name FROM tenants ORDER BY name")
		if err != nil {
			return err
		}
		var ts []tenant
		for rows.Next() {
			var t tenant
			if err := rows.Scan(&t.id, &t.name); err != nil {
				rows.Close()
				return err
			}
			ts = append(ts, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, t := range ts {
			bt := BackupTenant{Name: t.name, Secrets: []BackupSecret{}}
			rows, err := tx.Query("SELECT "+infoCols+", s.sealed FROM secrets s WHERE s.tenant_id = ? ORDER BY s.name, s.version", t.id)
			if err != nil {
				return err
			}
			type row struct {
				si     SecretInfo
				sealed []byte
			}
			var rs []row
			for rows.Next() {
				var r row
				if r.si, err = scanInfo(rows, t.name, &r.sealed); err != nil {
					rows.Close()
					return err
				}
				rs = append(rs, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, r := range rs {
				dek, err := v.dek(tx, t.id, r.si.DEKVersion)
				if err != nil {
					return err
				}
				pt, err := openValue(dek, t.id, r.si.Name, r.si.Version, r.si.DEKVersion, r.sealed)
				if err != nil {
					return err
				}
				bt.Secrets = append(bt.Secrets, BackupSecret{Name: r.si.Name, Version: r.si.Version, Value: pt, Description: r.si.Description,
					CreatedAt: r.si.CreatedAt, CreatedBy: r.si.CreatedBy, DeletedAt: r.si.DeletedAt})
				n++
			}
			b.Tenants = append(b.Tenants, bt)
		}
		return v.appendAudit(tx, auditRow{Action: "export", Object: v.path, Success: true, Detail: fmt.Sprintf("%d tenants, %d versions", len(ts), n)})
	})
	if err != nil {
		v.auditFailure("export", "", v.path, err)
		return nil, err
	}
	return b, nil
}

// Omitted counts the rows of one kind that the vault holds and a backup
// leaves out.
type Omitted struct {
	What  string `json:"what"` // singular: "device", "service token"
	Count int    `json:"count"`
}

// omittedKinds are what Export leaves out besides the audit trail:
// docs/vault.md, "Backups". Device challenges are not listed: they expire
// within minutes.
var omittedKinds = []struct{ what, query string }{
	{"device", "SELECT count(*) FROM devices"},
	{"device key", "SELECT count(*) FROM device_keys"},
	{"device secret", "SELECT count(*) FROM device_secrets"},
	{"device report", "SELECT count(*) FROM device_reports"},
	{"service token", "SELECT count(*) FROM service_tokens"},
	{"grant", "SELECT count(*) FROM grants"},
	{"access request", "SELECT count(*) FROM access_requests"},
	{"stub", "SELECT count(*) FROM stubs WHERE filled_at IS NULL"},
}

// NotInBackup counts what the vault holds that Export leaves out, in a
// fixed order, listing only the kinds it holds at least one of. It reads
// no secret material and needs no key.
func (v *Vault) NotInBackup() ([]Omitted, error) {
	var out []Omitted
	for _, k := range omittedKinds {
		var n int
		if err := v.db.QueryRow(k.query).Scan(&n); err != nil {
			return nil, dbErr(err)
		}
		if n > 0 {
			out = append(out, Omitted{What: k.what, Count: n})
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
func (v *Vault) Restore(b *Backup) (int, error) {
	if err := v.mustUnlocked(); err != nil {
		return 0, err
	}
	n := 0
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		var have int
		if err := tx.QueryRow("SELECT count(*) FROM secrets").Scan(&have); err != nil {
			return err
		}
		if have > 0 {
			return fmt.Errorf("%w: %d versions stored", ErrNotEmpty, have)
		}
		ins, err := tx.Prepare(`INSERT INTO secrets (tenant_id, name, version, dek_version, sealed, description, created_at, created_by, deleted_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, nullif(?, ''))`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, bt := range b.Tenants {
			t, err := v.tenant(tx, bt.Name)
			if err != nil {
				if _, err := v.addTenant(tx, bt.Name); err != nil {
					return err
				}
				if t, err = v.tenant(tx, bt.Name); err != nil {
					return err
				}
			}
			dek, err := v.dek(tx, t.id, t.dekVersion)
			if err != nil {
				return err
			}
			for _, s := range bt.Secrets {
				sealed, err := sealValue(dek, t.id, s.Name, s.Version, t.dekVersion, s.Value)
				if err != nil {
					return err
				}
				if _, err := ins.Exec(t.id, s.Name, s.Version, t.dekVersion, sealed, s.Description, s.CreatedAt, s.CreatedBy, s.DeletedAt); err != nil {
					return fmt.Errorf("restoring %s version %d: %w", s.Name, s.Version, err)
				}
				n++
			}
		}
		return v.appendAudit(tx, auditRow{Action: "restore", Object: v.path, Success: true,
			Detail: fmt.Sprintf("%d versions from vault %s exported at %s by %s", n, b.VaultID, b.ExportedAt, b.ExportedBy)})
	})
	if err != nil {
		v.auditFailure("restore", "", v.path, err)
		return 0, err
	}
	return n, nil
}
