package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
)

// RotateDEK gives the tenant a new data key and re-seals every version of
// every one of its secrets under it, in one transaction: a crash at any
// moment leaves either the old state or the new, and every secret opens.
// The old data key is then deleted. progress, if not nil, is called as rows
// are re-sealed. Two rotations of one tenant at once (two processes, two
// hosts on one PostgreSQL) are serialised on the tenant row: the second
// re-seals under yet another DEK.
func (v *Vault) RotateDEK(ctx context.Context, tenantName string, progress func(done, total int)) (RotateDEKResult, error) {
	return v.rotateDEK(ctx, tenantName, progress, 0)
}

// rotateDEK rotates unless minAge > 0 and the current DEK is younger
// (errYoungDEK, nothing written).
func (v *Vault) rotateDEK(ctx context.Context, tenantName string, progress func(done, total int), minAge time.Duration) (RotateDEKResult, error) {
	if err := v.mustUnlocked(); err != nil {
		return RotateDEKResult{}, err
	}
	var res RotateDEKResult
	err := v.update(ctx, func(o *op) error {
		res = RotateDEKResult{}
		t, err := o.lockedTenant(tenantName)
		if err != nil {
			return err
		}
		if minAge > 0 {
			if age, err := o.dekAge(tenantName); err != nil {
				return err
			} else if age < minAge {
				return errYoungDEK
			}
		}
		maxVer, err := o.tx.MaxDEKVersion(o.ctx, t.ID)
		if err != nil {
			return err
		}
		newVer := maxVer + 1
		_, total, err := o.tx.SecretCounts(o.ctx, t.ID)
		if err != nil {
			return err
		}
		newDEK, err := o.newDEK(t.ID, newVer)
		if err != nil {
			return err
		}
		var last int64
		done := 0
		for {
			batch, err := o.tx.SecretsPage(o.ctx, t.ID, last, 1000)
			if err != nil {
				return err
			}
			if len(batch) == 0 {
				break
			}
			for _, r := range batch {
				pt, err := o.open(t, r)
				if err != nil {
					return err
				}
				sealed, err := keyring.SealValue(newDEK, t.ID, r.Name, r.Version, newVer, pt)
				clear(pt)
				if err != nil {
					return err
				}
				if err := o.tx.UpdateSecretSeal(o.ctx, r.ID, newVer, sealed); err != nil {
					return err
				}
				done++
				if progress != nil {
					progress(done, total)
				}
				last = r.ID
			}
		}
		devices, err := o.resealDeviceSecrets(t, newVer, newDEK) // devices.go
		if err != nil {
			return err
		}
		amtKeys, err := o.resealAMTKeys(t, newVer, newDEK) // amt.go
		if err != nil {
			return err
		}
		if err := o.tx.SetTenantDEKVersion(o.ctx, t.ID, newVer); err != nil {
			return err
		}
		if err := o.tx.DeleteDEKsExcept(o.ctx, t.ID, newVer); err != nil {
			return err
		}
		if o.dropDEKs == nil {
			o.dropDEKs = map[int64]int{}
		}
		o.dropDEKs[t.ID] = newVer
		res = RotateDEKResult{DEKVersion: newVer, Secrets: done, DeviceSecrets: devices, AMTKeys: amtKeys}
		detail := fmt.Sprintf("DEK version %d, %d secret versions and %d device secret versions re-sealed", newVer, done, devices)
		if amtKeys > 0 {
			detail += fmt.Sprintf(", %d AMT provisioning keys", amtKeys)
		}
		o.audit(auditRow{Action: "rotate-dek", Tenant: t.Name, Object: t.Name, Success: true, Detail: detail})
		return nil
	})
	if errors.Is(err, errYoungDEK) {
		return RotateDEKResult{}, err
	}
	if err != nil {
		v.auditFailure(ctx, "rotate-dek", tenantName, tenantName, err)
		return RotateDEKResult{}, err
	}
	v.checkpoint(ctx)
	return res, nil
}

// RotateDEKResult says what RotateDEK did.
type RotateDEKResult struct {
	DEKVersion    int // the tenant's new data key version
	Secrets       int // secret versions re-sealed
	DeviceSecrets int // device secret versions re-sealed
	AMTKeys       int // AMT provisioning keys re-sealed
}

// RotateMaster re-wraps every tenant's data keys and the audit key under
// newKey, in one transaction, and records newKey's ID. Its cost grows with
// the number of tenants, not of secrets. Afterwards only newKey unlocks the
// vault.
func (v *Vault) RotateMaster(ctx context.Context, newKey masterkey.Key) error {
	if err := v.mustUnlocked(); err != nil {
		return err
	}
	if id := v.KeyID(); newKey.ID() == id {
		return fmt.Errorf("the new key is the vault's current key (ID %s)", id)
	}
	nk, err := keyring.Derive(newKey, v.env, v.vaultID, v.opts.Rand)
	if err != nil {
		return err
	}
	oldID, newID := v.KeyID(), newKey.ID()
	err = v.update(ctx, func(o *op) error {
		ds, err := o.tx.DEKs(o.ctx)
		if err != nil {
			return err
		}
		for _, d := range ds {
			dek, err := o.keys.UnwrapDEKBytes(d.TenantID, d.Version, d.Wrapped)
			if err != nil {
				return fmt.Errorf("%w: data key version %d of tenant %s does not unwrap", ErrTampered, d.Version, o.tenantLabel(d.TenantID))
			}
			wrapped, err := nk.WrapDEK(d.TenantID, d.Version, dek)
			clear(dek)
			if err != nil {
				return err
			}
			if err := o.tx.UpdateDEK(o.ctx, d.TenantID, d.Version, wrapped); err != nil {
				return err
			}
		}
		// update ran upgradeRowMACs first: the vault has every row MAC.
		wrappedAudit, err := nk.WrapAuditKey(o.keys.AuditKey(), keyring.LevelLatest)
		if err != nil {
			return err
		}
		if err := o.tx.SetMeta(o.ctx, store.MetaAuditKey, wrappedAudit); err != nil {
			return err
		}
		if err := o.tx.SetMeta(o.ctx, store.MetaKeyID, newID[:]); err != nil {
			return err
		}
		// The audit key is only re-wrapped, so the row MAC key derived
		// from it, and every row MAC, stay valid.
		o.newKeys, o.newKeyID = o.keys.WithKEKOf(nk), newID
		o.audit(auditRow{Action: "rotate-master", Object: v.Path(), Success: true,
			Detail: fmt.Sprintf("key %s -> %s, %d data keys re-wrapped", oldID, newID, len(ds))})
		return nil
	})
	if err != nil {
		v.auditFailure(ctx, "rotate-master", "", v.Path(), err)
		return err
	}
	v.checkpoint(ctx)
	return nil
}
