package storecopy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/keysmith/keysmith/pkg/vault/store"
)

// BackupFormat is the "format" of a complete backup: every row of the
// vault as stored (docs/vault.md, "Moving and backing up a vault").
// Backups of format keysmith-vault-backup/v1 (opened values of secrets
// only) are read by pkg/vault.
const BackupFormat = "keysmith-vault-backup/v2"

// Backup is the plaintext of a v2 backup (vault export encrypts it with
// age). Vault holds the rows; the other fields describe them for a reader
// and are checked against Vault.Meta.
type Backup struct {
	Format     string    `json:"format"`
	Env        string    `json:"env"`
	VaultID    string    `json:"vault_id"` // hex
	ExportedAt string    `json:"exported_at"`
	ExportedBy string    `json:"exported_by"`
	Vault      *Snapshot `json:"vault"`
}

// WriteBackup writes b as one JSON document.
func WriteBackup(w io.Writer, b *Backup) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(b)
}

// ErrBackup: a v2 backup that does not parse or is not consistent.
var ErrBackup = errors.New("invalid backup")

// ReadBackup parses a v2 backup and checks its shape: the settings a
// vault needs are there and agree with the header, every row belongs to
// a tenant of the backup, seqs of the audit chain run 1, 2, 3, ... A
// backup passing this can still fail verification after the restore (a
// row that does not open), which restore checks before reporting success.
func ReadBackup(r io.Reader) (*Backup, error) {
	var b Backup
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBackup, err)
	}
	if b.Format != BackupFormat {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrBackup, b.Format, BackupFormat)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the backup", ErrBackup)
	}
	s := b.Vault
	if s == nil {
		return nil, fmt.Errorf("%w: no vault", ErrBackup)
	}
	for _, k := range []string{store.MetaFormat, store.MetaVaultID, store.MetaEnv, store.MetaKeyID, store.MetaAuditKey} {
		if len(s.Meta[k]) == 0 {
			return nil, fmt.Errorf("%w: setting %q missing", ErrBackup, k)
		}
	}
	if string(s.Meta[store.MetaEnv]) != b.Env || fmt.Sprintf("%x", s.Meta[store.MetaVaultID]) != b.VaultID {
		return nil, fmt.Errorf("%w: header does not match the vault's settings", ErrBackup)
	}
	tenants := map[int64]bool{}
	for _, t := range s.Tenants {
		if t.ID <= 0 || tenants[t.ID] {
			return nil, fmt.Errorf("%w: tenant %q has ID %d", ErrBackup, t.Name, t.ID)
		}
		tenants[t.ID] = true
	}
	check := func(what string, id int64) error {
		if !tenants[id] {
			return fmt.Errorf("%w: %s of unknown tenant %d", ErrBackup, what, id)
		}
		return nil
	}
	for _, d := range s.DEKs {
		if err := check("data key", d.TenantID); err != nil {
			return nil, err
		}
	}
	for _, x := range s.Secrets {
		if err := check("secret", x.TenantID); err != nil {
			return nil, err
		}
	}
	for _, d := range s.Devices {
		if err := check("device", d.TenantID); err != nil {
			return nil, err
		}
	}
	for _, g := range s.Grants {
		if err := check("grant", g.TenantID); err != nil {
			return nil, err
		}
	}
	for _, q := range s.Requests {
		if err := check("access request", q.TenantID); err != nil {
			return nil, err
		}
	}
	for _, x := range s.Stubs {
		if err := check("stub", x.TenantID); err != nil {
			return nil, err
		}
	}
	for _, c := range s.AMTCerts {
		if err := check("AMT certificate", c.TenantID); err != nil {
			return nil, err
		}
	}
	for i, a := range s.Audit {
		if a.Seq != int64(i+1) {
			return nil, fmt.Errorf("%w: audit row %d has seq %d", ErrBackup, i+1, a.Seq)
		}
	}
	return &b, nil
}
