package vault

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/seal"
)

// RotateDEK gives the tenant a new data key and re-seals every version of
// every one of its secrets under it, in one transaction: a crash at any
// moment leaves either the old state or the new, and every secret opens.
// The old data key is then deleted. progress, if not nil, is called as rows
// are re-sealed. It returns the new DEK version and the number of rows.
func (v *Vault) RotateDEK(tenantName string, progress func(done, total int)) (RotateDEKResult, error) {
	if err := v.mustUnlocked(); err != nil {
		return RotateDEKResult{}, err
	}
	var newVer, done int
	var res RotateDEKResult
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		t, err := v.tenant(tx, tenantName)
		if err != nil {
			return err
		}
		if err := tx.QueryRow("SELECT coalesce(max(version), 0) + 1 FROM deks WHERE tenant_id = ?", t.id).Scan(&newVer); err != nil {
			return err
		}
		var total int
		if err := tx.QueryRow("SELECT count(*) FROM secrets WHERE tenant_id = ?", t.id).Scan(&total); err != nil {
			return err
		}
		if err := v.newDEK(tx, t.id, newVer); err != nil {
			return err
		}
		newDEK := v.unlocked.deks[t.id][newVer]
		upd, err := tx.Prepare("UPDATE secrets SET sealed = ?, dek_version = ? WHERE id = ?")
		if err != nil {
			return err
		}
		defer upd.Close()
		type row struct {
			id                  int64
			name                string
			version, dekVersion int
			sealed              []byte
		}
		var last int64
		for {
			rows, err := tx.Query("SELECT id, name, version, dek_version, sealed FROM secrets WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT 1000", t.id, last)
			if err != nil {
				return err
			}
			var batch []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.id, &r.name, &r.version, &r.dekVersion, &r.sealed); err != nil {
					rows.Close()
					return err
				}
				batch = append(batch, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(batch) == 0 {
				break
			}
			for _, r := range batch {
				old, err := v.dek(tx, t.id, r.dekVersion)
				if err != nil {
					return err
				}
				pt, err := openValue(old, t.id, r.name, r.version, r.dekVersion, r.sealed)
				if err != nil {
					return err
				}
				sealed, err := sealValue(newDEK, t.id, r.name, r.version, newVer, pt)
				clear(pt)
				if err != nil {
					return err
				}
				if _, err := upd.Exec(sealed, newVer, r.id); err != nil {
					return err
				}
				done++
				if progress != nil {
					progress(done, total)
				}
				last = r.id
			}
		}
		devices, err := v.resealDeviceSecrets(tx, t, newVer, newDEK) // devices.go
		if err != nil {
			return err
		}
		res.DeviceSecrets = devices
		if _, err := tx.Exec("UPDATE tenants SET dek_version = ? WHERE id = ?", newVer, t.id); err != nil {
			return err
		}
		if _, err := tx.Exec("DELETE FROM deks WHERE tenant_id = ? AND version <> ?", t.id, newVer); err != nil {
			return err
		}
		for ver := range v.unlocked.deks[t.id] {
			if ver != newVer {
				delete(v.unlocked.deks[t.id], ver)
			}
		}
		return v.appendAudit(tx, auditRow{Action: "rotate-dek", Tenant: t.name, Object: t.name, Success: true,
			Detail: fmt.Sprintf("DEK version %d, %d secret versions and %d device secret versions re-sealed", newVer, done, res.DeviceSecrets)})
	})
	if err != nil {
		v.unlocked.deks = map[int64]map[int]*seal.AEAD{}
		v.auditFailure("rotate-dek", tenantName, tenantName, err)
		return RotateDEKResult{}, err
	}
	v.checkpoint()
	res.DEKVersion, res.Secrets = newVer, done
	return res, nil
}

// RotateDEKResult says what RotateDEK did.
type RotateDEKResult struct {
	DEKVersion    int // the tenant's new data key version
	Secrets       int // secret versions re-sealed
	DeviceSecrets int // device secret versions re-sealed
}

// RotateMaster re-wraps every tenant's data keys and the audit key under
// newKey, in one transaction, and records newKey's ID. Its cost grows with
// the number of tenants, not of secrets. Afterwards only newKey unlocks the
// vault.
func (v *Vault) RotateMaster(newKey masterkey.Key) error {
	if err := v.mustUnlocked(); err != nil {
		return err
	}
	if newKey.ID() == v.keyID {
		return fmt.Errorf("the new key is the vault's current key (ID %s)", v.keyID)
	}
	nk, err := deriveKeys(newKey, v.env, v.vaultID, v.opts.Rand)
	if err != nil {
		return err
	}
	oldID, newID := v.keyID, newKey.ID()
	var count int
	err = v.write(context.Background(), func(tx *sql.Tx) error {
		type dekRow struct {
			tenant  int64
			version int
			wrapped []byte
		}
		rows, err := tx.Query("SELECT tenant_id, version, wrapped FROM deks ORDER BY tenant_id, version")
		if err != nil {
			return err
		}
		var ds []dekRow
		for rows.Next() {
			var d dekRow
			if err := rows.Scan(&d.tenant, &d.version, &d.wrapped); err != nil {
				rows.Close()
				return err
			}
			ds = append(ds, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, d := range ds {
			dek, err := v.unlocked.kek.Open(nil, d.wrapped, dekAD(v.vaultID, d.tenant, d.version))
			if err != nil {
				return fmt.Errorf("%w: data key version %d of tenant %s does not unwrap", ErrTampered, d.version, tenantLabel(tx, d.tenant))
			}
			wrapped, err := wrapDEK(nk.kek, v.vaultID, d.tenant, d.version, dek)
			clear(dek)
			if err != nil {
				return err
			}
			if _, err := tx.Exec("UPDATE deks SET wrapped = ? WHERE tenant_id = ? AND version = ?", wrapped, d.tenant, d.version); err != nil {
				return err
			}
			count++
		}
		// write ran ensureRowMACs first: the vault has row MACs.
		wrappedAudit, err := nk.kek.Seal(nil, v.unlocked.audit, auditKeyAD(v.vaultID, true))
		if err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE meta SET value = ? WHERE key = 'audit_key'", wrappedAudit); err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE meta SET value = ? WHERE key = 'key_id'", newID[:]); err != nil {
			return err
		}
		return v.appendAudit(tx, auditRow{Action: "rotate-master", Object: v.path, Success: true,
			Detail: fmt.Sprintf("key %s -> %s, %d data keys re-wrapped", oldID, newID, count)})
	})
	if err != nil {
		v.auditFailure("rotate-master", "", v.path, err)
		return err
	}
	// The audit key is only re-wrapped, so the row MAC key derived from it,
	// and every row MAC, stay valid.
	nk.audit, nk.row, nk.deks = v.unlocked.audit, v.unlocked.row, v.unlocked.deks
	v.unlocked, v.keyID = nk, newID
	v.checkpoint()
	return nil
}

// checkpoint copies the WAL into the database and truncates it, so pages
// holding data re-sealed or re-wrapped a moment ago are overwritten rather
// than left in the WAL. Best effort: another process may hold a read lock.
func (v *Vault) checkpoint() {
	_, _ = v.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
}

// Compact checkpoints the WAL and runs VACUUM.
func (v *Vault) Compact() error {
	v.checkpoint()
	_, err := v.db.Exec("VACUUM")
	return dbErr(err)
}
